# Two set-up commands on a fresh machine: `make demo` and `make test`.
# Each creates what it needs (.venv for the project, .venv-eark for the E-ARK validator).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EARK_VENV := .venv-eark
SHARED ?= ../shared
WORKERS ?= 2

.PHONY: demo test lint typecheck unit bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(EARK_VENV)/.installed:
	$(PYTHON) -m venv $(EARK_VENV)
	$(EARK_VENV)/bin/pip install --quiet --upgrade pip
	$(EARK_VENV)/bin/pip install --quiet eark-validator==1.1.3
	touch $@

demo: $(VENV)/.installed
	$(PY) -m oais_preserve.demo --out build/demo --workers $(WORKERS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check oais_preserve tests bench
	$(VENV)/bin/ruff format --check oais_preserve tests bench

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

unit: $(VENV)/.installed $(EARK_VENV)/.installed
	OAIS_EARK_PYTHON=$(abspath $(EARK_VENV))/bin/python $(PY) -m pytest -n $(WORKERS) -q

test: lint typecheck unit

bench: $(VENV)/.installed
	$(PY) bench/run.py --workers $(WORKERS)

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
