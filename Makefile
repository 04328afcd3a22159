# inferops: `make test` sets up everything a fresh machine needs and runs every test; `make demo` runs the demo.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Node.js 24: the machine's own when it is 24, otherwise fetched from the npm registry into a cache.
NODE_BIN := $(shell hack/node.sh)
export PATH := $(NODE_BIN):$(PATH)
TMP := .tmp

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.installed ## Install npm dependencies (npm ci).

.PHONY: crds
crds: deps ## Regenerate crds/ from the zod schemas.
	node hack/gen-crds.ts

.PHONY: check
check: deps ## Lint, format check, typecheck, and crds/ freshness.
	npx biome check .
	npx tsc -p tsconfig.json
	node hack/gen-crds.ts --check

.PHONY: unit
unit: deps ## Unit tests only (no cluster).
	npx vitest run --project unit

.PHONY: test
test: check ## Everything: checks, unit and integration tests. Ends with `N passed, N failed`.
	@mkdir -p $(TMP)
	@rm -f $(TMP)/vitest.json
	npx vitest run --reporter=default --reporter=json --outputFile.json=$(TMP)/vitest.json || true
	@node hack/test-summary.ts $(TMP)/vitest.json | tee $(TMP)/summary.txt
	@grep -q ' 0 failed' $(TMP)/summary.txt
