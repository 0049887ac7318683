# deltarad: `make demo` and `make test` set everything up on a machine with Python 3.11, pip and make.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/deltarad demo --out demo-output

bench: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
