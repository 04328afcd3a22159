#!/usr/bin/env bash
# Installs the Debian packages the integration and end-to-end suites need, when missing: Prometheus, and for
# the image and chart suites a Docker engine (docker.io) and debootstrap (the local base image, hack/base-image.sh).
set -euo pipefail
missing=()
# Debian's prometheus package carries promtool too (the chart suite tests the alert rules with it).
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# dockerd, not docker: a static docker client may be installed on its own; the engine is what the suites need.
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v kubectl >/dev/null 2>&1 || { echo "hack/system-deps.sh: kubectl is required on PATH" >&2; exit 1; }
command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]] || { echo "hack/system-deps.sh: Go is required to build the local control plane" >&2; exit 1; }
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "hack/system-deps.sh: missing ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}" >&2
  # Without a Docker engine only the image and chart suites are skipped (they say why); Prometheus is needed.
  [[ " ${missing[*]} " == *" prometheus "* ]] && exit 1
  exit 0
fi
echo "hack/system-deps.sh: installing ${missing[*]} from Debian's packages" >&2
apt-get update -qq
# docker.io's own client goes to /usr/bin/docker; a client already first on PATH (/usr/local/bin) stays first.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
