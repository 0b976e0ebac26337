# Thin aliases; every target works on a fresh machine (it builds what it needs first).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv tools peers test unit lint bench e2e conformance run deploy deploy-examples clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP) ## Create the virtualenv with pinned dependencies

tools: ## Build kube-apiserver, kube-controller-manager, etcd, clusterctl (cached)
	@bash e2e/toolchain/build.sh >/dev/null

peers: ## Build upstream Metal3 IPAM, CAPM3 and the in-cluster IPAM provider (cached; slow at first)
	@nice -n 10 bash e2e/peers/build.sh >/dev/null

test: venv tools ## Run every test: unit, property, integration on real clusters, scenarios
	$(PY) -m pytest $(PYTEST_ARGS)

unit: venv ## Only the tests that need no cluster
	$(PY) -m pytest tests/unit tests/property $(PYTEST_ARGS)

lint: venv ## ruff, mypy strict on ipam/, import-linter contracts
	$(VENV)/bin/ruff check ipam e2e tests bench conformance
	$(VENV)/bin/ruff format --check ipam e2e tests bench conformance
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: venv tools ## Benchmarks: core allocator, control plane, controller
	$(PY) bench/core_bench.py $(BENCH_ARGS)
	$(PY) bench/cluster_bench.py $(BENCH_ARGS)
	$(PY) bench/controller_bench.py $(BENCH_ARGS)

e2e: venv tools ## The YAML scenarios against two real management clusters
	$(PY) -m pytest scenarios $(PYTEST_ARGS)

conformance: venv tools ## Upstream Metal3 IPAM v1.13.2 and ours side by side on every case of conformance/
	@nice -n 10 bash e2e/peers/build.sh metal3-ipam >/dev/null
	$(PY) -m pytest conformance -p no:cacheprovider $(PYTEST_ARGS)

run: venv tools ## Run the controller (embedded control plane when KUBECONFIG is unset)
	$(PY) -m e2e.local $(ARGS)

deploy: ## Install CRDs, RBAC and the Deployment into the cluster of $KUBECONFIG
	kubectl apply -k config

deploy-examples: ## Apply examples/ to the cluster of $KUBECONFIG
	for d in examples/*/; do kubectl apply -f $$d; done

clean: ## Remove the virtualenv and caches (the built tools stay cached)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
