#!/usr/bin/env bash
# Smoke test for a cluster started by cluster.sh: a fake kwok GPU node
# (smoke/gpu-node.yaml) and a Deployment that needs nvidia.com/gpu: 1 with a
# toleration + nodeSelector (smoke/gpu-deployment.yaml). Checks that the node
# becomes Ready and that every pod is scheduled onto it and Running, prints the
# result, then deletes everything it created (unless --keep).
#
# Usage: hack/controlplane/smoke.sh <dir> [--keep]
#   <dir>  the cluster state dir given to `cluster.sh up` (uses <dir>/admin.kubeconfig)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE=gpu-h100-0
NS=inferops-smoke
DEPLOY=gpu-smoke
TIMEOUT="${INFEROPS_SMOKE_TIMEOUT:-90}"

log() { printf '[smoke] %s\n' "$*" >&2; }
die() { printf '[smoke] FAIL: %s\n' "$*" >&2; exit 1; }

[[ $# -ge 1 ]] || { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
DIR="$1"
KEEP=0
[[ "${2:-}" == "--keep" ]] && KEEP=1
export KUBECONFIG="${DIR}/admin.kubeconfig"
[[ -s "${KUBECONFIG}" ]] || die "${KUBECONFIG} not found; run cluster.sh up ${DIR} first"

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
  local rc=$?
  if [[ ${rc} -ne 0 ]]; then
    log "diagnostics:"
    kubectl get nodes -o wide >&2 || true
    kubectl -n "${NS}" get deploy,rs,pods -o wide >&2 || true
    kubectl -n "${NS}" get events --sort-by=.lastTimestamp >&2 || true
  fi
  if [[ ${KEEP} == 0 ]]; then
    log "cleaning up"
    kubectl delete namespace "${NS}" --ignore-not-found --timeout="${TIMEOUT}s" >/dev/null 2>&1 || true
    kubectl delete node "${NODE}" --ignore-not-found --timeout="${TIMEOUT}s" >/dev/null 2>&1 || true
  fi
  exit "${rc}"
}
trap cleanup EXIT

start=${SECONDS}
kubectl get --raw /readyz >/dev/null || die "API server not ready"

# A namespace left Terminating by an earlier run must be gone before reuse.
if [[ -n "$(kubectl get namespace "${NS}" --ignore-not-found -o jsonpath='{.metadata.deletionTimestamp}')" ]]; then
  log "waiting for namespace ${NS} from an earlier run to finish terminating"
  kubectl wait --for=delete "namespace/${NS}" --timeout="${TIMEOUT}s" >/dev/null
fi
kubectl create namespace "${NS}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f "${HERE}/smoke/gpu-node.yaml" >/dev/null
kubectl wait --for=condition=Ready "node/${NODE}" --timeout="${TIMEOUT}s" >/dev/null ||
  die "node ${NODE} did not become Ready (is kwok running? see <dir>/logs/kwok.log)"
log "node ${NODE} Ready after $((SECONDS - start))s"

# A new namespace gets its `default` ServiceAccount from the controller-manager
# shortly after creation; the ReplicaSet controller retries until it exists.
kubectl apply -f "${HERE}/smoke/gpu-deployment.yaml" >/dev/null
kubectl -n "${NS}" rollout status "deployment/${DEPLOY}" --timeout="${TIMEOUT}s" >/dev/null ||
  die "deployment ${DEPLOY} did not become available"

want="$(kubectl -n "${NS}" get deployment "${DEPLOY}" -o jsonpath='{.spec.replicas}')"
mapfile -t rows < <(kubectl -n "${NS}" get pods -l "app=${DEPLOY}" \
  -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\n"}{end}')
running=0
for row in "${rows[@]}"; do
  read -r name node phase <<<"${row}"
  [[ "${node}" == "${NODE}" ]] || die "pod ${name} is on '${node}', want ${NODE}"
  [[ "${phase}" == Running ]] || die "pod ${name} is ${phase}, want Running"
  running=$((running + 1))
done
[[ ${running} -eq ${want} ]] || die "${running} pods Running, want ${want}"

alloc="$(kubectl get node "${NODE}" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')"
[[ "${alloc}" == 8 ]] || die "node allocatable nvidia.com/gpu is '${alloc}', want 8"

kubectl get node "${NODE}" -o wide
kubectl -n "${NS}" get pods -o wide
echo "smoke: OK: ${running}/${want} pods Running on ${NODE} in $((SECONDS - start))s"
