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
demo: deps system-deps controlplane ## The demo: the operator on the local control plane, simulated GPUs and traffic (about 6 minutes; DURATION=seconds of traffic, default 300; KEEP=1 keeps it running until Ctrl-C; OPERATOR_LOG=file saves every decision with its signals).
	node hack/demo.ts --duration $(or $(DURATION),300) $(if $(KEEP),--keep) $(if $(OPERATOR_LOG),--operator-log $(OPERATOR_LOG))

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

# `make test` runs three vitest processes at once, each with its own local control plane (its own global
# setup): two wall-clock groups, integration files that mostly wait on real time (minutes of traffic, of learned
# headroom, of faults), one file at a time each; and the main group, the unit tests and the other integration
# files (one integration file at a time). Each cluster runs one file's operators at a time, and the waiting
# overlaps the CPU-heavy work. docs/development.md (Integration tests) has the figures.
WALLCLOCK_A := test/integration/headroom.test.ts test/integration/controlplane-faults.test.ts \
  test/integration/budgets.test.ts test/integration/signals.test.ts test/integration/failover.test.ts
WALLCLOCK_B := test/integration/demo.test.ts test/integration/metrics-faults.test.ts \
  test/integration/node-faults.test.ts
WALLCLOCK_TESTS := $(WALLCLOCK_A) $(WALLCLOCK_B)
vitest_report = --reporter=default --reporter=json --outputFile.json=$(TMP)/vitest-$(1).json

test: check system-deps controlplane bench-quick ## Everything: checks, the quick benchmark, unit and integration tests. Ends with `N passed, N failed`.
	@mkdir -p $(TMP)
	@rm -f $(TMP)/vitest.json $(TMP)/vitest-*.json $(TMP)/vitest-*.log
	@echo "wall-clock groups (output in $(TMP)/vitest-wallclock-{a,b}.log, printed when they end): $(WALLCLOCK_A); $(WALLCLOCK_B)"
	node_modules/.bin/vitest run --project integration $(WALLCLOCK_A) $(call vitest_report,wallclock-a) \
	  >$(TMP)/vitest-wallclock-a.log 2>&1 & a=$$!; \
	  node_modules/.bin/vitest run --project integration $(WALLCLOCK_B) $(call vitest_report,wallclock-b) \
	  >$(TMP)/vitest-wallclock-b.log 2>&1 & b=$$!; \
	  trap 'kill $$a $$b 2>/dev/null; exit 130' INT TERM; \
	  node_modules/.bin/vitest run --project unit --project integration $(addprefix --exclude ,$(WALLCLOCK_TESTS)) \
	    $(call vitest_report,main) || true; \
	  echo "main group done; waiting for the wall-clock groups"; \
	  wait $$a || true; wait $$b || true; \
	  cat $(TMP)/vitest-wallclock-a.log $(TMP)/vitest-wallclock-b.log
	@node hack/test-summary.ts $(TMP)/vitest-main.json $(TMP)/vitest-wallclock-a.json $(TMP)/vitest-wallclock-b.json \
	  | tee $(TMP)/summary.txt
	@grep -q ' 0 failed' $(TMP)/summary.txt
