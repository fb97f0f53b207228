# Rapport: the one entry point for people and CI. `make run` runs the gateway, `make test` the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
INSTALLED := $(VENV)/.installed
# The browser tests' npm packages (axe-core, for the accessibility checks), as locked.
BROWSER_PACKAGES := tests/e2e/node_modules/.package-lock.json

.PHONY: setup run protos test test-unit test-integration test-e2e lint fmt typecheck bench clean models eval test-ops monitoring-files

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(BROWSER_PACKAGES): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	touch $@

## Run the whole gateway: the Kafka broker and every Procfile process under supervisord,
## which restarts any that dies; Ctrl-C stops them all.
run: setup
	@$(BIN)/python -m infra.stack
	@$(BIN)/python -m infra.supervise

## Regenerate the Python stubs in shared/gen from protos/.
protos: setup
	$(BIN)/python -m infra.protogen

## The whole suite: unit, integration (real Kafka, real gRPC) and end-to-end (every service as a
## process); the slowest twenty are listed at the end, to keep CI within its budget.
test: setup $(BROWSER_PACKAGES)
	$(BIN)/python -m pytest tests --durations=20

test-unit: setup
	$(BIN)/python -m pytest tests/unit

test-integration: setup
	$(BIN)/python -m pytest tests/integration

test-e2e: setup $(BROWSER_PACKAGES)
	$(BIN)/python -m pytest tests/e2e

## Deployment artefacts: compose (via compose-spec's loader), Dockerfile, Helm chart (helm, kubeconform), metrics catalogue, promtool.
test-ops: setup
	$(BIN)/python -m pytest tests/ops tests/integration/test_monitoring.py

## Regenerate docs/metrics.md and the Grafana dashboards after changing metrics or panels.
monitoring-files: setup
	$(BIN)/python -m infra.metrics_catalogue
	$(BIN)/python -m infra.dashboards

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: setup
	$(BIN)/mypy shared services infra bench

## End-to-end benchmark against a running stack (`make run` in another terminal).
bench: setup
	$(BIN)/python -m bench.e2e_latency

clean:
	rm -rf var/run $(VENV)

## Retrain every emotion-service model from the copied data (fixed seeds), then evaluate.
## The encoder's fine-tuning takes about an hour on two cores; embedding XED and
## GoEmotions for the multilingual heads about another half hour (cached after).
## RAPPORT_CORRECTIONS=FILE adds agents' corrections (export-corrections) to training only.
models: setup
	test -x .venv-models/bin/python || $(PYTHON) -m venv .venv-models
	.venv-models/bin/python -m pip install --quiet -r services/emotion/training/requirements-models.lock
	.venv-models/bin/python -m services.emotion.training.prepare
	.venv-models/bin/python -m services.emotion.training.train
	.venv-models/bin/python -m services.emotion.training.finetune
	.venv-models/bin/python -m services.emotion.training.retrieval_encoder
	$(BIN)/python -m services.emotion.training.multilingual
	$(MAKE) eval

## Calibrate on dev, evaluate the shipped models on the test splits (runtime venv):
## thresholds the service loads, metrics, model cards, tables; the knowledge scoring.
eval: setup
	$(BIN)/python -m services.emotion.training.evaluate
	$(BIN)/python -m services.emotion.training.language_weights
	$(BIN)/python -m services.emotion.training.evaluate_encoder
	$(BIN)/python -m services.emotion.training.needs_person
	$(BIN)/python -m services.emotion.training.evaluate_real
	$(BIN)/python -m services.orchestrator.knowledge.banking77 var/knowledge-banking77
	$(BIN)/python -m services.orchestrator knowledge calibrate --knowledge var/knowledge-banking77/articles \
	    --queries var/knowledge-banking77/dev.jsonl > var/knowledge-scoring.json
	mv var/knowledge-scoring.json services/orchestrator/knowledge/scoring.json
	$(BIN)/python -m services.orchestrator knowledge evaluate --knowledge var/knowledge-banking77/articles \
	    --queries var/knowledge-banking77/test.jsonl | tail -1
