# provledger — the obvious targets. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run demo test test-fast test-anvil lint compile check-artifacts docs-assets \
	check-docs-assets auditor-page check-auditor-page bench bench-gas bench-relayer clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The service on the embedded default: durable chain + SQLite in ./.provledger, on :8000.
run: setup
	$(BIN)/provledger serve

# A one-shot tour of the ledger core on a local anvil node.
demo: setup
	$(BIN)/provledger demo

# Suites that talk to the shared test chain, run again on a real anvil node. The second pass
# leaves out PostgreSQL (the first pass covered it), tests/api/cli, tests/api/browser and the
# pytest plugin's test (their servers run their own embedded chain whatever --chain says).
ANVIL_SUITES := tests/contracts tests/ledger/chain tests/ledger/relayer tests/ledger/index \
	tests/ledger/rpc tests/ledger/test_verifier.py tests/api --ignore=tests/api/cli \
	--ignore=tests/api/browser --ignore=tests/api/test_pytest_plugin.py

# The whole suite on the in-process chain, then the chain suites again on a real anvil node.
test: setup
	$(BIN)/pytest -q
	env -u PROVLEDGER_TEST_DATABASE_URL $(BIN)/pytest -q --chain=anvil $(ANVIL_SUITES)

test-fast: setup
	$(BIN)/pytest -q -x

test-anvil: setup
	$(BIN)/pytest -q --chain=anvil $(ANVIL_SUITES)

lint: setup
	$(BIN)/ruff check ledger api tests bench
	$(BIN)/ruff format --check ledger api tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

compile: setup
	$(BIN)/provledger compile

check-artifacts: setup
	$(BIN)/provledger compile --check

# The assets of /docs and /redoc, copied from the pinned npm packages into api/docs/static.
docs-assets: setup
	$(BIN)/python -m api.docs.assets

check-docs-assets: setup
	$(BIN)/python -m api.docs.assets --check

# The auditor's page (/): web/auditor built by the pinned esbuild into api/auditor/{static,page}.
auditor-page: setup
	$(BIN)/python -m api.auditor.build

check-auditor-page: setup
	$(BIN)/python -m api.auditor.build --check

# Every benchmark in a quick bounded mode (a few minutes); full-size commands in bench/RESULTS.md.
bench: setup
	$(BIN)/python bench/suite.py

bench-gas: setup
	$(BIN)/python bench/gas.py
	$(BIN)/python bench/gas.py --chain anvil

# Relayer throughput (outbox to confirmed) against naive, raw and batched sends, fresh chains.
bench-relayer: setup
	$(BIN)/python bench/relayer.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
