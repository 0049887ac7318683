# deltarad: `make demo` and `make test` set everything up on a machine with Python 3.11, pip and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup browser lint test demo bench bench-quick bench-graylevels bench-kinetics references clean

setup: $(STAMP)

# Debian's chromium renders the report in the browser test (tests/report/test_browser.py).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# ruff (lint and format) and mypy, as CI runs them
lint: setup
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy

test: setup browser lint
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/deltarad demo --out demo-output

bench: setup
	$(PY) benchmarks/run.py

# The extraction table (competent and serial plain ways, deltarad), per-stage profile, 512 x 512 x 200 exam
bench-quick: setup
	$(PY) benchmarks/run.py --quick

# Reference values made once by R (Debian: r-base-core r-cran-rms r-cran-hmisc r-cran-mice
# r-cran-jsonlite) on ../shared/data/stats; the files are committed beside the scripts in
# tests/references and the tests read them without R. About 10 minutes (mice at m = 1000).
references:
	for script in tests/references/*.R; do echo "$$script"; Rscript "$$script" || exit 1; done
# The gray-level comparison reduced (2 patients per cohort of 30/100/300 bins, 160 x 160 x 72 exams; ~10 minutes on 2 cores)
bench-graylevels: setup
	$(PY) benchmarks/graylevels.py --patients 2 --shape 160 160 72
# Kinetics' cost inside extraction and the competent way, on the kinetic cohort and copies scaled to 100/300 bins (~10 minutes)
bench-kinetics: setup
	$(PY) benchmarks/kinetics.py --patients 2 --repeats 1 --bins 100 300

clean:
	rm -rf $(VENV) demo-output .pytest_cache
