# provledger — the obvious targets. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run demo test test-fast test-anvil lint compile check-artifacts bench-gas clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Until the service exists: deploy on a local anvil node, register a file, verify it.
run: setup
	$(BIN)/provledger demo

demo: run

# The whole suite on the in-process chain, then the chain suites again on a real anvil node.
test: setup
	$(BIN)/pytest -q
	$(BIN)/pytest -q --chain=anvil tests/contracts tests/ledger/chain tests/ledger/relayer tests/ledger/test_verifier.py

test-fast: setup
	$(BIN)/pytest -q -x

test-anvil: setup
	$(BIN)/pytest -q --chain=anvil tests/contracts tests/ledger/chain tests/ledger/relayer tests/ledger/test_verifier.py

lint: setup
	$(BIN)/ruff check ledger api tests bench
	$(BIN)/ruff format --check ledger api tests bench
	$(BIN)/mypy

compile: setup
	$(BIN)/provledger compile

check-artifacts: setup
	$(BIN)/provledger compile --check

bench-gas: setup
	$(BIN)/python bench/gas.py
	$(BIN)/python bench/gas.py --chain anvil

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
