# Two entry points for a fresh machine (see README.md):
#   make demo   set up .venv, convert a checkpoint, check parity, export, reload with hub.KerasLayer, predict
#   make test   set up .venv and run the whole test suite (~10 min on 2 cores; make test-fast skips full-size clips)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VARIANT ?= swin_tiny_patch244_window877_kinetics400_1k

.PHONY: setup demo test test-fast lint clean

setup: $(STAMP)

# torch goes first and pinned: 2.13.0 is the CPU wheel on this machine's disk (a looser spec pulls CUDA).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,ray]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m porting.demo --variant $(VARIANT)

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) exports/*/ .pytest_cache
