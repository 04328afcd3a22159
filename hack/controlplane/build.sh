#!/usr/bin/env bash
# Build the local control-plane binaries from the Go module proxy (no Docker,
# no prebuilt downloads) into a per-version cache outside the clone:
#
#   ${INFEROPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops}/bin/<component>-<version>/<binary>
#
# Usage: hack/controlplane/build.sh [component ...]
#   components: kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm
#   (default: all). Already-built binaries are skipped, so a warm run is instant.
# Prints the per-component timing on stderr and the bin root on stdout (last line).
#
# Versions are pinned in hack/controlplane/versions.env.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"

CACHE_DIR="${INFEROPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops}"
BIN_ROOT="${CACHE_DIR}/bin"
SRC_ROOT="${CACHE_DIR}/src"   # throwaway "tools" go modules, one per component+version

ALL_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok helm)

log() { printf '[build] %s\n' "$*" >&2; }
die() { printf '[build] ERROR: %s\n' "$*" >&2; exit 1; }

component_version() {
  case "$1" in
    kube-apiserver | kube-controller-manager | kube-scheduler) echo "${KUBE_VERSION}" ;;
    etcd) echo "${ETCD_VERSION}" ;;
    kwok) echo "${KWOK_VERSION}" ;;
    helm) echo "${HELM_VERSION}" ;;
    *) die "unknown component '$1' (known: ${ALL_COMPONENTS[*]})" ;;
  esac
}

bin_path() {
  local comp="$1"
  echo "${BIN_ROOT}/${comp}-$(component_version "${comp}")/${comp}"
}

# Go environment: static binaries, local toolchain only (never let a dependency's
# `toolchain` line trigger a toolchain download), module mode that may update the
# throwaway go.mod/go.sum. GOMODCACHE/GOCACHE stay at their defaults so they are
# shared with everything else on the machine.
export CGO_ENABLED=0
export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false"

# new_tools_module DIR REQUIRE_PATH REQUIRE_VERSION [EXTRA_GO_MOD_TEXT]
# Writes DIR/go.mod (once) for a module that only depends on REQUIRE_PATH@VERSION.
new_tools_module() {
  local dir="$1" req="$2" ver="$3" extra="${4:-}"
  if [[ -f "${dir}/go.mod" ]]; then
    return 0
  fi
  mkdir -p "${dir}"
  local gover
  gover="$(go env GOVERSION)"; gover="${gover#go}"
  {
    printf 'module inferops.local/controlplane-tools\n\n'
    printf 'go %s\n\n' "${gover}"
    printf 'require %s %s\n' "${req}" "${ver}"
    if [[ -n "${extra}" ]]; then
      printf '\n%s\n' "${extra}"
    fi
  } >"${dir}/go.mod.tmp"
  mv "${dir}/go.mod.tmp" "${dir}/go.mod"
}

# k8s.io/kubernetes cannot be used as a dependency as-is: its go.mod requires
# every k8s.io/* staging module at v0.0.0 and replaces it with ./staging/src/...
# (replace directives of dependencies are ignored). Pin each of those to the
# published v0.<minor>.<patch> tag, the same way kubernetes-sigs/scheduler-plugins does.
k8s_tools_module() {
  local dir="${SRC_ROOT}/k8s-${KUBE_VERSION}"
  if [[ -f "${dir}/go.mod" ]]; then
    echo "${dir}"
    return 0
  fi
  local staging_ver="v0.${KUBE_VERSION#v1.}"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" |
    sed -n 's/^[[:space:]]*"GoMod":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p')"
  [[ -f "${gomod}" ]] || die "could not download k8s.io/kubernetes@${KUBE_VERSION}"
  local mods
  # Lines look like `k8s.io/api => ./staging/src/k8s.io/api` inside a replace
  # block, or `replace k8s.io/api => ./staging/...` on one line.
  mods="$(awk '/=>[[:space:]]*\.\/staging\// {
            for (i = 1; i <= NF; i++) if ($(i + 1) == "=>") { print $i; break }
          }' "${gomod}" | sort -u)"
  [[ -n "${mods}" ]] || die "found no staging replace directives in ${gomod}"
  local replace="replace ("$'\n'
  local m
  for m in ${mods}; do
    replace+=$'\t'"${m} => ${m} ${staging_ver}"$'\n'
  done
  replace+=")"
  log "k8s tools module: pinning $(wc -w <<<"${mods}") staging modules to ${staging_ver}"
  new_tools_module "${dir}" k8s.io/kubernetes "${KUBE_VERSION}" "${replace}"
  echo "${dir}"
}

# go_build MODULE_DIR PACKAGE OUTPUT LDFLAGS...
go_build() {
  local dir="$1" pkg="$2" out="$3"
  shift 3
  local ldflags="-s -w $*"
  mkdir -p "$(dirname "${out}")"
  (
    cd "${dir}"
    go build -p 2 -trimpath -ldflags "${ldflags}" -o "${out}.tmp" "${pkg}"
  )
  mv "${out}.tmp" "${out}"
}

# The standalone kwok binary has no built-in stages (only kwokctl injects its
# defaults) and refuses to start without any. Write the same defaults kwokctl
# uses (node-initialize, node-heartbeat-with-lease, pod-ready, pod-complete,
# pod-delete), taken from the exact kwok module version, next to the binary.
kwok_stages() {
  local dir="${SRC_ROOT}/kwok-${KWOK_VERSION}" moddir
  local out
  out="$(dirname "$(bin_path kwok)")/stages.yaml"
  moddir="$(cd "${dir}" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  local st="${moddir}/kustomize/stage" f
  {
    for f in node/fast/node-initialize.yaml \
      node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      [[ -f "${st}/${f}" ]] || die "kwok stage ${st}/${f} not found"
      printf -- '---\n# from sigs.k8s.io/kwok@%s kustomize/stage/%s\n' "${KWOK_VERSION}" "${f}"
      cat "${st}/${f}"
    done
  } >"${out}.tmp"
  mv "${out}.tmp" "${out}"
}

build_one() {
  local comp="$1"
  local ver out
  ver="$(component_version "${comp}")"
  out="$(bin_path "${comp}")"
  if [[ -x "${out}" ]]; then
    if [[ "${comp}" == kwok && ! -s "$(dirname "${out}")/stages.yaml" ]]; then
      kwok_stages
    fi
    log "${comp} ${ver}: cached (${out})"
    return 0
  fi
  log "${comp} ${ver}: building ..."
  local start=${SECONDS}
  case "${comp}" in
    kube-apiserver | kube-controller-manager | kube-scheduler)
      local dir minor major
      dir="$(k8s_tools_module)"
      major="${KUBE_VERSION#v}"; major="${major%%.*}"
      minor="${KUBE_VERSION#v*.}"; minor="${minor%%.*}"
      local vf=()
      local p
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        vf+=("-X ${p}.gitVersion=${KUBE_VERSION}"
          "-X ${p}.gitMajor=${major}"
          "-X ${p}.gitMinor=${minor}"
          "-X ${p}.gitTreeState=clean")
      done
      go_build "${dir}" "k8s.io/kubernetes/cmd/${comp}" "${out}" "${vf[@]}"
      ;;
    etcd)
      local dir="${SRC_ROOT}/etcd-${ETCD_VERSION}"
      new_tools_module "${dir}" go.etcd.io/etcd/server/v3 "${ETCD_VERSION}"
      go_build "${dir}" go.etcd.io/etcd/server/v3 "${out}"
      ;;
    kwok)
      local dir="${SRC_ROOT}/kwok-${KWOK_VERSION}"
      new_tools_module "${dir}" sigs.k8s.io/kwok "${KWOK_VERSION}"
      go_build "${dir}" sigs.k8s.io/kwok/cmd/kwok "${out}" \
        "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
      kwok_stages
      ;;
    helm)
      local dir="${SRC_ROOT}/helm-${HELM_VERSION}"
      local hmod="helm.sh/helm/${HELM_VERSION%%.*}"
      new_tools_module "${dir}" "${hmod}" "${HELM_VERSION}"
      go_build "${dir}" "${hmod}/cmd/helm" "${out}" \
        "-X ${hmod}/internal/version.version=${HELM_VERSION}" \
        "-X ${hmod}/internal/version.gitTreeState=clean"
      ;;
  esac
  log "${comp} ${ver}: built in $((SECONDS - start))s -> ${out}"
}

main() {
  local comps=("$@")
  if [[ ${#comps[@]} -eq 0 ]]; then
    comps=("${ALL_COMPONENTS[@]}")
  fi
  local c
  for c in "${comps[@]}"; do
    component_version "${c}" >/dev/null
  done
  command -v go >/dev/null || die "go not found in PATH"
  mkdir -p "${BIN_ROOT}" "${SRC_ROOT}"
  # Serialise concurrent invocations (they would share the tools go.mod files).
  exec 9>"${CACHE_DIR}/.build.lock"
  flock 9
  for c in "${comps[@]}"; do
    build_one "${c}"
  done
  echo "${BIN_ROOT}"
}

main "$@"; exit $?
