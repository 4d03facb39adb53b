# Every target creates or reuses the project virtualenv by itself.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[sandbox,test]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install vpcctl with the sandbox and test tools

demo: $(STAMP)  ## build fargate-privatelink in the local sandbox, show it, tear it down
	bash scripts/demo.sh $(BIN)

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest -q -n auto --dist loadfile  # one worker per core; a test file stays on one worker (module fixtures)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

BENCH_SCALE ?= 0.25

bench: $(STAMP)  ## API calls and wall time per command; up and teardown against AWS's critical path (sandbox time scale BENCH_SCALE)
	$(BIN)/python benchmarks/bench.py --synthetic --time-scale $(BENCH_SCALE)

clean:
	rm -rf $(VENV) build dist .pytest_cache
