# aTES. Two commands matter: `make run` (the whole stack locally) and `make test` (every test).
# Everything else is set up on demand: the virtualenvs are built from the requirement files.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.12; use it when the machine has it (pyenv keeps it off PATH), else 3.11.
PYTHON ?= $(shell for c in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 python3.11 python3; do \
	$$c -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$c; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .tools/checkov
PORT ?= 8000
STAGE ?= dev
# `sam build` wants the runtime's exact interpreter on PATH: the venv's python3.12 is.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
PIP_QUIET := --quiet --disable-pip-version-check
# Independent prerequisites (the two virtualenvs of a first `make test`) are built at once.
MAKEFLAGS += --jobs=2

.PHONY: help run seed test lint lock clean-venv format build deploy audit bench schemas clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# Every virtualenv is installed from its lock (every package pinned, with hashes, checked on install) by uv, and
# made exactly that: `uv pip sync` removes what the lock does not name. A changed lock re-syncs it on the next
# `make run` or `make test`. The locks are compiled from the human-edited .in files by `make lock`.
UV_VENV := .tools/uv
UV := $(UV_VENV)/bin/uv
SYNC := $(UV) pip sync --quiet --require-hashes --python

$(UV_VENV)/.installed: requirements-uv.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed (3.12 preferred)"; exit 1; }
	@test -x $(UV_VENV)/bin/python || $(PYTHON) -m venv $(UV_VENV)
	@$(UV_VENV)/bin/python -m pip install $(PIP_QUIET) --require-hashes --no-deps -r requirements-uv.txt
	@touch $@

$(VENV)/.installed: requirements-dev.txt $(UV_VENV)/.installed
	@echo "setting up $(VENV) with $(PYTHON) from requirements-dev.txt..."
	@test -x $(PY) || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	@$(SYNC) $(PY) requirements-dev.txt
	@touch $@

# SAM CLI pins its own versions of the translator and cfn-lint: it gets a virtualenv of its own.
$(SAM_VENV)/.installed: requirements-sam.txt $(UV_VENV)/.installed
	@echo "setting up the SAM CLI in $(SAM_VENV) from requirements-sam.txt..."
	@test -x $(SAM_VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(SAM_VENV)
	@$(SYNC) $(SAM_VENV)/bin/python requirements-sam.txt
	@touch $@

# checkov pins its own versions of boto3, cfn-lint and more: a virtualenv of its own too.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt $(UV_VENV)/.installed
	@echo "setting up checkov in $(CHECKOV_VENV) from requirements-checkov.txt..."
	@test -x $(CHECKOV_VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(CHECKOV_VENV)
	@$(SYNC) $(CHECKOV_VENV)/bin/python requirements-checkov.txt
	@touch $@

# The locks, in this order: the dev lock is constrained by the functions' one (same versions in tests and Lambda),
# and so is each package's (functions/packages: the runtime layer's first, then the contexts' on top of it).
# Universal (any platform, Python 3.11 and up): the same lock serves 3.11 and 3.12 machines and Lambda's 3.12.
PACKAGE_LOCKS := $(patsubst %.in,%,$(wildcard functions/packages/runtime/requirements.in) \
	$(filter-out functions/packages/runtime/%,$(sort $(wildcard functions/packages/*/requirements.in))))
LOCKS := requirements-uv functions/requirements $(PACKAGE_LOCKS) requirements-dev requirements-sam requirements-checkov
COMPILE := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"
lock: $(UV_VENV)/.installed ## compile the locks from the requirement files (.in); UPGRADE=1 takes newer versions
	@for lock in $(LOCKS); do echo "locking $$lock.txt"; \
		$(COMPILE) $(if $(UPGRADE),--upgrade) $$lock.in -o $$lock.txt || exit 1; done

clean-venv: ## remove the virtualenvs (the next make run or make test rebuilds them from the locks)
	rm -rf $(VENV) .tools

run: $(VENV)/.installed ## start the whole stack (state kept in .devstack/state; FRESH=1 starts empty), print the URL and sign-in
	@$(PY) -m devstack up --port $(PORT) $(if $(FRESH),--fresh)

# A company-year (R-LOC-3) into the running devstack, or into a fresh one started on PORT (kept running after).
POPUGS ?= 1000
DAYS ?= 365
SEED ?= 1
seed: $(VENV)/.installed ## load a company-year (1,000 popugs, 365 closed days, ledger, lake) into the devstack
	@$(PY) -m devstack seed --popugs $(POPUGS) --days $(DAYS) --seed $(SEED) --port $(PORT)

# Test files run in TEST_WORKERS processes (TEST_WORKERS=0: one process), a file (the security package:
# the package) at a time per process, so module- and package-scoped stacks are started once.
TEST_WORKERS ?= 2
test: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## run every test (unit, contract, integration, e2e, browser, security)
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## ruff, cfn-lint (+ our rules), sam validate --lint, checkov, schema freshness, the locks
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/cfn-lint template.yaml  # with our rules (.cfnlintrc: tests/contract/cfnlint_rules)
	@$(SAM) validate --lint --template template.yaml
	@$(PY) -m tests.contract.checkov_findings
	@$(PY) schemas/generate.py --check
	@$(PY) -m tests.lockfile check --compile '$(COMPILE)'

format: $(VENV)/.installed ## fix what ruff can fix
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

schemas: $(VENV)/.installed ## regenerate schemas/ and the template's schema registry from the contracts
	@$(PY) schemas/generate.py

build: $(SAM_VENV)/.installed $(VENV)/.installed ## sam build (cached, parallel)
	@$(SAM) build --config-env $(STAGE)

deploy: build ## sam deploy to STAGE (dev|prod), then upload web/ to the stack's bucket
	@$(SAM) deploy --config-env $(STAGE)
	@$(PY) web/publish.py --stack ates-$(STAGE)

audit: $(VENV)/.installed ## check the running devstack's books: balances = opening + ledger, fees and rewards = task events
	$(VENV)/bin/python -m devstack audit-ledger

bench: $(VENV)/.installed ## benchmarks; figures printed as JSON
	@$(PY) -m bench

clean: ## remove build output and local state (not the virtualenvs)
	rm -rf .aws-sam .devstack .pytest_cache .ruff_cache
