# Two set-up commands: `make demo` and `make test`. Both create or reuse .venv and install the
# project with its dev extras; nothing else needs to be on the machine but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BENCH_VENV := .venv-bench

.PHONY: demo test lint pytest bench bench-save console clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chime-bot needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/chime-bot demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint pytest

console: $(STAMP)
	$(BIN)/chime-bot console

# The AWS CLI and aiobotocore live in their own venv: aiobotocore pins its own botocore.
$(BENCH_VENV)/.installed: bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt
	@touch $@

# `make bench` writes bench/out/ (untracked); `make bench-save` then copies that run over the
# committed figures in bench/results/. BENCH_ARGS passes options to bench/run.py (see --help).
BENCH_OUT := bench/out
BENCH_ARGS ?=

bench: $(STAMP) $(BENCH_VENV)/.installed
	rm -f $(BENCH_OUT)/latest.json $(BENCH_OUT)/clients.json  # bench-save never mixes two runs
	$(BIN)/python bench/run.py --aws $(BENCH_VENV)/bin/aws --out $(BENCH_OUT) $(BENCH_ARGS)
	$(BENCH_VENV)/bin/python bench/clients.py --emulator-python $(BIN)/python --out $(BENCH_OUT)

bench-save:
	@test -f $(BENCH_OUT)/latest.json -a -f $(BENCH_OUT)/clients.json \
	  || { echo "no complete run in $(BENCH_OUT)/: run make bench first" >&2; exit 1; }
	cp $(BENCH_OUT)/latest.json $(BENCH_OUT)/clients.json bench/results/

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info .chime-bot
