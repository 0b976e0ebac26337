# Thin aliases; every target works on a fresh machine (it builds what it needs first).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

VERSION := v$(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMG ?= capi-ipam:dev
# clusterctl accepts only canonical image names: a bare name is Docker Hub's library one.
RELEASE_IMG = $(if $(findstring /,$(IMG)),$(IMG),docker.io/library/$(IMG))
RELEASE_DIR ?= out
PROVIDER := ipam-metal3

.PHONY: help venv tools node-packages test unit lint bench e2e run node image image-oci image-lock \
	deploy undeploy deploy-examples release-manifests peers conformance mutation e2e-peers bench-peers \
	bench-memory bench-scale clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# The tests run the versions the image ships: image/requirements.txt constrains the install.
$(STAMP): pyproject.toml image/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c image/requirements.txt -e '.[dev]'
	@touch $@

venv: $(STAMP) ## Create the virtualenv with pinned dependencies

tools: ## Build kube-apiserver, kube-controller-manager, etcd, clusterctl (cached)
	@bash e2e/toolchain/build.sh >/dev/null

peers: ## Build upstream Metal3 IPAM, CAPM3 and the in-cluster IPAM provider (cached; slow at first)
	@nice -n 10 bash e2e/peers/build.sh >/dev/null

node-packages: ## Debian packages of a harness node (containerd, runc, CNI plugins, mmdebstrap, gcc)
	@bash e2e/node_assets/packages.sh

test: venv tools node-packages ## Run every test: unit, property, integration on real clusters, scenarios
	$(PY) -m pytest $(PYTEST_ARGS)

unit: venv ## Only the tests that need no cluster
	$(PY) -m pytest tests/unit tests/property $(PYTEST_ARGS)

lint: venv ## ruff, mypy strict on ipam/, import-linter contracts
	$(VENV)/bin/ruff check ipam e2e tests bench conformance
	$(VENV)/bin/ruff format --check ipam e2e tests bench conformance
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Mutation testing of the pure core (slow, off CI's path). MUTANTS narrows it to a glob of mutant
# names (e.g. 'ipam.core.units.*') and reruns those, keeping the other verdicts under mutants/.
MUTANTS ?=
MUTATION_MIN ?= 80
mutation: venv ## Mutants of ipam/core against its unit and property tests; fails below MUTATION_MIN% killed
	$(if $(MUTANTS),,rm -rf mutants)
	IPAM_HYPOTHESIS_PROFILE=mutation nice -n 10 $(VENV)/bin/mutmut run $(if $(MUTANTS),'$(MUTANTS)') >mutants.log 2>&1 \
		|| { tail -n 40 mutants.log; exit 1; }
	$(PY) -m tests.mutation.score --min $(MUTATION_MIN) --mutants '$(or $(MUTANTS),*)' --survivors

bench: venv tools ## Benchmarks: core allocator, control plane, controller, and side by side with the peers (built first, cached)
	@nice -n 10 bash e2e/peers/build.sh metal3-ipam incluster >/dev/null
	$(PY) bench/core_bench.py $(BENCH_ARGS)
	$(PY) bench/registry_bench.py $(BENCH_ARGS)
	$(PY) bench/cluster_bench.py $(BENCH_ARGS)
	$(PY) bench/controller_bench.py $(BENCH_ARGS)
	$(PY) bench/peers_bench.py $(BENCH_ARGS)

bench-peers: venv tools ## Upstream Metal3 IPAM, the in-cluster provider and ours side by side (builds the two peers; BENCH_ARGS=--quick)
	@nice -n 10 bash e2e/peers/build.sh metal3-ipam incluster >/dev/null
	$(PY) bench/peers_bench.py $(BENCH_ARGS)

bench-memory: venv tools ## Controller RSS idle, at 10,000 bound claims and after release; release rate; restart
	$(PY) bench/memory_bench.py $(BENCH_ARGS)

bench-scale: venv tools ## 100,000 claims over 100 pools: all bound once, nothing lost, RSS, CPU, the Lease kept (BENCH_ARGS="--claims 2000 --pools 10")
	$(PY) bench/scale_bench.py $(BENCH_ARGS)

e2e: venv tools ## The YAML scenarios against two real management clusters
	$(PY) -m pytest scenarios --slow $(PYTEST_ARGS)

e2e-peers: venv tools ## The scenarios that run CAPM3 or the in-cluster provider beside ours (builds them first, as make peers)
	@nice -n 10 bash e2e/peers/build.sh capm3 incluster >/dev/null
	$(PY) -m pytest scenarios -m peers --peers --slow $(PYTEST_ARGS)

conformance: venv tools ## Upstream Metal3 IPAM v1.13.2 and ours side by side on every case of conformance/
	@nice -n 10 bash e2e/peers/build.sh metal3-ipam >/dev/null
	$(PY) -m pytest conformance -p no:cacheprovider $(PYTEST_ARGS)

run: venv tools ## Run the controller (embedded control plane when KUBECONFIG is unset)
	$(PY) -m e2e.local $(ARGS)

node: venv tools node-packages ## A control plane with a real node (kubelet, containerd) and the image, until Ctrl-C
	$(PY) -m e2e.node

image: ## Build the controller image with Docker (IMG=capi-ipam:dev)
	docker build -t $(IMG) .

image-oci: venv ## Build the same image without Docker: an OCI archive (cached), for ctr/docker load
	$(PY) -m e2e.images controller

image-lock: venv ## Re-resolve image/requirements.txt from pyproject.toml's dependencies
	$(PY) -m e2e.images lock

# WEBHOOK=cert-manager adds the admission webhook (config/webhook) with its certificate issued
# by cert-manager (config/certmanager); WEBHOOK=secret adds the webhook alone, for a Secret
# ipam-webhook-service-cert and a caBundle you provide.
WEBHOOK ?=
WEBHOOK_COMPONENTS = $(if $(filter cert-manager,$(WEBHOOK)),webhook certmanager,$(if $(filter secret,$(WEBHOOK)),webhook,))

# config/ with the WEBHOOK components, built from a kustomization in a scratch directory
# (an overlay inside config/ would contain itself).
KUSTOMIZE_CONFIG = case "$(WEBHOOK)" in ""|cert-manager|secret) ;; *) echo "WEBHOOK is cert-manager, secret or empty" >&2; exit 2;; esac; \
	dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && rel=$$(realpath --relative-to="$$dir" config) && \
	{ printf 'resources:\n  - %s\ncomponents:\n' "$$rel"; \
	  for c in $(WEBHOOK_COMPONENTS); do printf '  - %s/%s\n' "$$rel" "$$c"; done; } > "$$dir/kustomization.yaml" && \
	kubectl kustomize "$$dir"

deploy: ## Install CRDs, RBAC, the Deployment and its FlowSchema into the cluster of $KUBECONFIG (IMG=capi-ipam:dev, WEBHOOK=cert-manager)
	@set -o pipefail; { $(KUSTOMIZE_CONFIG); } | sed 's|image: capi-ipam:dev|image: $(IMG)|' | kubectl apply -f -

undeploy: ## Remove the webhook, the Deployment, FlowSchema, RBAC and namespace; the CRDs and your pools, claims, addresses stay
	kubectl delete --ignore-not-found -f config/webhook/manifests.yaml -f config/webhook/service.yaml
	@if kubectl get crd certificates.cert-manager.io >/dev/null 2>&1; then \
	  kubectl delete --ignore-not-found -f config/certmanager/certificate.yaml; fi
	kubectl delete --ignore-not-found --cascade=foreground -f config/manager/deployment.yaml
	kubectl delete --ignore-not-found -f config/flowcontrol/flowschema.yaml
	kubectl delete --ignore-not-found $(foreach f,$(filter-out %/kustomization.yaml,$(wildcard config/rbac/*.yaml)),-f $(f))
	kubectl delete --ignore-not-found -f config/namespace.yaml

release-manifests: ## clusterctl provider repository: $(RELEASE_DIR)/ipam-metal3/<version>/{ipam-components,metadata}.yaml (WEBHOOK=cert-manager)
	@mkdir -p $(RELEASE_DIR)/$(PROVIDER)/$(VERSION)
	@set -o pipefail; { $(KUSTOMIZE_CONFIG); } | sed 's|image: capi-ipam:dev|image: $(RELEASE_IMG)|' > $(RELEASE_DIR)/$(PROVIDER)/$(VERSION)/ipam-components.yaml
	cp config/metadata.yaml $(RELEASE_DIR)/$(PROVIDER)/$(VERSION)/metadata.yaml
	@echo "$(RELEASE_DIR)/$(PROVIDER)/$(VERSION)/ipam-components.yaml"

deploy-examples: ## Apply examples/ to the cluster of $KUBECONFIG
	for d in examples/*/; do kubectl apply -f $$d; done

clean: ## Remove the virtualenv and caches (the built tools and images stay cached)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis $(RELEASE_DIR) mutants mutants.log
