# mlwarden — `make help` lists the targets. Every target sets up what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := .make
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup browser demo demo-org test test-fast synth wheel bench bench-scale lint typecheck fmt docs check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

$(STAMP)/python: pyproject.toml
	@mkdir -p $(STAMP)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[dev]"
	@touch $@

$(STAMP)/node: package.json package-lock.json
	@mkdir -p $(STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMP)/python $(STAMP)/node ## create .venv and node_modules (pinned versions); cache the demo's template
	@$(BIN)/python -c "from mlwarden.cli.demo import DEMO_CONTEXT; from mlwarden.cli.local_account import cached_template; \
	  print('demo template:', 'cached' if cached_template(DEMO_CONTEXT)[1] else 'synthesized and cached')"

demo: $(STAMP)/python ## the whole stack on a local AWS account (moto server)
	$(BIN)/mlwarden demo

demo-org: $(STAMP)/python ## organization mode on a local organization (central + two members, two Regions)
	$(BIN)/mlwarden demo --org

# The HTML report is tested in a real headless browser (tests/e2e/test_report.py). Installs Debian's chromium
# when it is missing; without apt-get it says so and the test fails with the same advice.
browser: ## install Debian's chromium (headless browser for the report test) when missing
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "make: could not install chromium with apt-get; tests/e2e/test_report.py will fail" >&2; \
	  else \
	    echo "make: apt-get not found: install chromium yourself; tests/e2e/test_report.py will fail" >&2; \
	  fi; }

# `make test` is what CI runs (.ci/run): lint and the type check first, then every test level.
# The tests run on every core (pytest-xdist); tests/conftest.py says which tests share a worker.
test: $(STAMP)/python lint typecheck browser ## lint, type check, then unit, functional, infra and e2e tests
	$(BIN)/python -m pytest -n auto

test-fast: $(STAMP)/python ## unit and functional tests only
	$(BIN)/python -m pytest tests/unit tests/functional

synth: setup ## npx cdk synth (offline)
	npx cdk synth --quiet

# The wheel users `pip install`: the runtime, the CLI and the construct (`from mlwarden_cdk import Guardrails`).
# pip builds it in an isolated environment with the setuptools pinned in pyproject.toml [build-system]; build/ is
# removed before and after, so that no file of an earlier build slips in. tests/e2e/test_wheel.py installs it.
wheel: $(STAMP)/python ## build dist/mlwarden-<version>-py3-none-any.whl
	rm -rf build dist/mlwarden-*.whl
	$(BIN)/python -m pip wheel --disable-pip-version-check --no-deps -q -w dist .
	rm -rf build
	@ls dist/mlwarden-*.whl

bench: $(STAMP)/python ## print the performance figures of DESIGN §4 (and the sweep figures of issue 14)
	$(BIN)/python bench/bench.py

bench-scale: $(STAMP)/python ## the slow scale run: 10,000 buckets + 100,000 training jobs (peak RSS, wall, requests)
	$(BIN)/python bench/sweep_bench.py scale

lint: $(STAMP)/python ## ruff check + ruff format --check (make fmt fixes both)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)/python ## mypy, strict on the runtime package lambdas/mlwarden ([tool.mypy] in pyproject.toml)
	$(BIN)/python -m mypy

fmt: $(STAMP)/python ## ruff format + fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(STAMP)/python ## regenerate the README rule table and docs/rules.md from the registry
	$(BIN)/python -m mlwarden.cli.docs

check: test ## what CI runs (make test includes lint and typecheck)

clean: ## remove build output (keeps .venv)
	rm -rf cdk.out build dist $(STAMP)/node .pytest_cache .mypy_cache
