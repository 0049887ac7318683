# deltarad: `make demo` and `make test` set everything up on a machine with Python 3.11, pip and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup browser test demo bench bench-quick bench-graylevels clean

setup: $(STAMP)

# Debian's chromium renders the report in the browser test (tests/report/test_browser.py).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: setup browser
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/deltarad demo --out demo-output

bench: setup
	$(PY) benchmarks/run.py

# The extraction table (competent and serial plain ways, deltarad), per-stage profile, 512 x 512 x 200 exam
bench-quick: setup
	$(PY) benchmarks/run.py --quick

# The gray-level comparison reduced (2 patients per cohort of 30/100/300 bins, 160 x 160 x 72 exams; ~10 minutes on 2 cores)
bench-graylevels: setup
	$(PY) benchmarks/graylevels.py --patients 2 --shape 160 160 72

clean:
	rm -rf $(VENV) demo-output .pytest_cache
