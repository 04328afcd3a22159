# inferops: `make test` sets up everything a fresh machine needs and runs every test; `make demo` runs the demo.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Node.js 24: the machine's own when it is 24, otherwise fetched from the npm registry into a cache.
NODE_BIN := $(shell hack/node.sh)
export PATH := $(NODE_BIN):$(PATH):/usr/local/go/bin
TMP := .tmp

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.installed ## Install npm dependencies (npm ci).

.PHONY: system-deps
system-deps: ## Debian packages the suites need (Prometheus), installed when missing.
	hack/system-deps.sh

.PHONY: controlplane
controlplane: ## Build (first time) or reuse the pinned control-plane binaries (cached outside the clone).
	hack/controlplane/build.sh

.PHONY: crds
crds: deps ## Regenerate crds/ from the zod schemas.
	node hack/gen-crds.ts

.PHONY: check
check: deps ## Lint, format check, typecheck, and crds/ freshness.
	npx biome check .
	npx tsc -p tsconfig.json
	node hack/gen-crds.ts --check

.PHONY: integration
integration: deps system-deps controlplane ## Integration tests against the local control plane.
	npx vitest run --project integration

.PHONY: image
image: ## Build the operator image inferops:dev on the local base image (starts dockerd when none answers: stop it with hack/docker.sh down).
	hack/docker.sh up
	docker build --network host --build-arg BASE_IMAGE="$$(hack/base-image.sh)" -t inferops:dev .

.PHONY: cluster-up
cluster-up: controlplane ## Start a local control plane in .tmp/cluster (KUBECONFIG printed last).
	hack/controlplane/cluster.sh up $(TMP)/cluster

.PHONY: demo
demo: deps system-deps controlplane ## The demo: the operator on the local control plane, simulated GPUs and traffic (about 6 minutes; DURATION=seconds of traffic, default 300; KEEP=1 keeps it running until Ctrl-C).
	node hack/demo.ts --duration $(or $(DURATION),300) $(if $(KEEP),--keep)

.PHONY: cluster-down
cluster-down: ## Stop it.
	hack/controlplane/cluster.sh down $(TMP)/cluster

.PHONY: unit
unit: deps ## Unit tests only (no cluster).
	npx vitest run --project unit

.PHONY: test
.PHONY: bench-quick
bench-quick: deps ## The autoscaling benchmark's quick subset (about 20 s; results to a temporary folder).
	npm run bench -- --quick

test: check system-deps controlplane bench-quick ## Everything: checks, the quick benchmark, unit and integration tests. Ends with `N passed, N failed`.
	@mkdir -p $(TMP)
	@rm -f $(TMP)/vitest.json
	npx vitest run --reporter=default --reporter=json --outputFile.json=$(TMP)/vitest.json || true
	@node hack/test-summary.ts $(TMP)/vitest.json | tee $(TMP)/summary.txt
	@grep -q ' 0 failed' $(TMP)/summary.txt
