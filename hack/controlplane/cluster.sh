#!/usr/bin/env bash
# A real, local Kubernetes control plane on loopback without Docker:
# etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok
# (fake nodes/pods), all as plain processes built by build.sh.
#
# Usage:
#   hack/controlplane/cluster.sh up     <dir>            start (or reuse) a cluster whose state lives in <dir>
#   hack/controlplane/cluster.sh down   <dir> [--purge]  stop every process of that cluster (and rm -rf <dir>)
#   hack/controlplane/cluster.sh status <dir>            print which processes are alive (exit 1 if any is not)
#
# `up` prints the admin kubeconfig path as the LAST line of stdout; progress goes
# to stderr. It writes into <dir>:
#   admin.kubeconfig     CN=inferops-admin, O=system:masters (cluster-admin)
#   operator.kubeconfig  CN=inferops-operator, no groups (only what RBAC grants it)
#   env                  shell-sourceable `export KEY=value` lines (see write_env)
#   cluster.json         the same facts as JSON
#   pki/ kubeconfigs/ etcd/ logs/<component>.log pids/<component>.pid kwok/ ports
#   logs/audit.log       the API server's audit log (JSON lines) of requests by ServiceAccounts only, at the
#                        Metadata level: who did what to which resource (the chart suite measures RBAC with it)
# Re-running `up` on a stopped <dir> keeps etcd data and certificates; `up` on a
# running, healthy <dir> just prints the kubeconfig path again. If `up` fails or
# is interrupted it stops everything it started (logs stay in <dir>/logs).
# Binaries are taken from the build.sh cache (built on demand when missing).
#
# Environment knobs:
#   INFEROPS_CACHE                binary cache root (see build.sh)
#   INFEROPS_UP_TIMEOUT=120       seconds `up` waits for the components
#   INFEROPS_STOP_TIMEOUT=5       seconds between SIGTERM and SIGKILL in `down`
#   INFEROPS_KCM_SA_CREDENTIALS=false  true: one ServiceAccount per controller (kubeadm-like, slower)
#   INFEROPS_PROFILING=false      true: the API server, controller-manager and scheduler serve /debug/pprof
#                                 (kubectl get --raw '/debug/pprof/profile?seconds=30' > cpu.pb; go tool pprof)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"

CACHE_DIR="${INFEROPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops}"
BIN_ROOT="${CACHE_DIR}/bin"

# Start order (see stop_all for the stop order).
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

SERVICE_CIDR="10.96.0.0/16"  # ClusterIP allocation range only: no traffic ever goes there
POD_CIDR="10.244.0.0/16"     # fake pod IPs handed out by kwok: nothing listens there
FAKE_NODE_IP="10.255.0.1"    # fake InternalIP kwok writes into nodes without one
KWOK_NODE_ANNOTATION="kwok.x-k8s.io/node=fake"
UP_TIMEOUT="${INFEROPS_UP_TIMEOUT:-120}"  # seconds
# true: every controller gets its own ServiceAccount + RBAC, as in kubeadm
# clusters (costs ~5 s more on a fresh <dir>: one SA + token per controller).
# false (default): controllers use the controller-manager's own (system:masters) identity.
case "${INFEROPS_KCM_SA_CREDENTIALS:-false}" in
  1 | true) KCM_SA_CREDENTIALS=true ;;
  *) KCM_SA_CREDENTIALS=false ;;
esac
case "${INFEROPS_PROFILING:-false}" in
  1 | true) PROFILING=true ;;
  *) PROFILING=false ;;
esac

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^# shellcheck/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

bin() {
  local comp="$1" ver
  case "${comp}" in
    etcd) ver="${ETCD_VERSION}" ;;
    kwok) ver="${KWOK_VERSION}" ;;
    *) ver="${KUBE_VERSION}" ;;
  esac
  echo "${BIN_ROOT}/${comp}-${ver}/${comp}"
}

ensure_binaries() {
  local missing=() c
  for c in "${COMPONENTS[@]}"; do
    [[ -x "$(bin "${c}")" ]] || missing+=("${c}")
  done
  if [[ ! -s "$(dirname "$(bin kwok)")/stages.yaml" ]]; then
    missing+=(kwok)
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "building missing binaries: ${missing[*]} (cold builds take minutes)"
    "${HERE}/build.sh" "${missing[@]}" >/dev/null
  fi
}

# ---------------------------------------------------------------- ports ----

port_in_use() {
  # Any TCP socket (listening or connected) using this local port.
  [[ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]]
}

TAKEN_PORTS=" "
# pick_port VAR [PREVIOUS]: set VAR to PREVIOUS when it is still free, else to a
# random free port in 20000-32767 (below Linux's ephemeral range, so outgoing
# connections never grab it between our check and the bind).
pick_port() {
  local var="$1" prev="${2:-}" p i
  if [[ -n "${prev}" && "${TAKEN_PORTS}" != *" ${prev} "* ]] && ! port_in_use "${prev}"; then
    TAKEN_PORTS+="${prev} "
    printf -v "${var}" '%s' "${prev}"
    return 0
  fi
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12768))
    if [[ "${TAKEN_PORTS}" != *" ${p} "* ]] && ! port_in_use "${p}"; then
      TAKEN_PORTS+="${p} "
      printf -v "${var}" '%s' "${p}"
      return 0
    fi
  done
  die "no free port found"
}

# ----------------------------------------------------------------- pki -----

# new_cert NAME SUBJECT [SERVER_SANS]: EC P-256 key + cert signed by the cluster CA.
new_cert() {
  local name="$1" subj="$2" sans="${3:-}" pki="${DIR}/pki"
  # Reuse an existing cert unless its subject changed (e.g. a <dir> made by an
  # older version of this script).
  if [[ -s "${pki}/${name}.crt" && -s "${pki}/${name}.key" ]] &&
    [[ "$(openssl x509 -noout -subject -nameopt compat -in "${pki}/${name}.crt")" == "subject=${subj}" ]]; then
    return 0
  fi
  local ext="${pki}/${name}.ext"
  if [[ -n "${sans}" ]]; then
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "${sans}" >"${ext}"
  else
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"${ext}"
  fi
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${pki}/${name}.key" 2>/dev/null
  openssl req -new -key "${pki}/${name}.key" -subj "${subj}" -out "${pki}/${name}.csr" 2>/dev/null
  openssl x509 -req -in "${pki}/${name}.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "${ext}" -out "${pki}/${name}.crt" 2>/dev/null
  rm -f "${pki}/${name}.csr" "${ext}"
}

make_pki() {
  local pki="${DIR}/pki"
  mkdir -p "${pki}"
  chmod 700 "${pki}"
  if [[ ! -s "${pki}/ca.crt" || ! -s "${pki}/ca.key" ]]; then
    log "generating certificates in ${pki}"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${pki}/ca.key" 2>/dev/null
    openssl req -x509 -new -key "${pki}/ca.key" -subj "/CN=inferops-local-ca" -days 3650 -sha256 \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "${pki}/ca.crt" 2>/dev/null
  fi
  new_cert apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  new_cert admin "/O=system:masters/CN=inferops-admin"
  new_cert operator "/CN=inferops-operator"
  # In system:masters because by default its controllers run with its own
  # credentials (see INFEROPS_KCM_SA_CREDENTIALS), and the bootstrap
  # system:kube-controller-manager ClusterRole only covers the SA-per-controller mode.
  new_cert kube-controller-manager "/O=system:masters/CN=system:kube-controller-manager"
  new_cert kube-scheduler "/CN=system:kube-scheduler"
  new_cert kwok "/O=system:masters/CN=kwok-controller"
  # Front-proxy (request-header) client cert: the API server uses it towards
  # aggregated API servers; kube-controller-manager/scheduler expect the CA in
  # the extension-apiserver-authentication ConfigMap (they log errors without it).
  new_cert front-proxy-client "/CN=front-proxy-client"
  # Service-account token signing key pair.
  if [[ ! -s "${pki}/sa.key" ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${pki}/sa.key" 2>/dev/null
    openssl pkey -in "${pki}/sa.key" -pubout -out "${pki}/sa.pub" 2>/dev/null
  fi
}

# write_kubeconfig FILE USER_CERT_NAME: self-contained (embedded certs) kubeconfig.
write_kubeconfig() {
  local file="$1" name="$2" pki="${DIR}/pki"
  cat >"${file}.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: inferops-local
  cluster:
    server: ${API_URL}
    certificate-authority-data: $(base64 -w0 "${pki}/ca.crt")
users:
- name: ${name}
  user:
    client-certificate-data: $(base64 -w0 "${pki}/${name}.crt")
    client-key-data: $(base64 -w0 "${pki}/${name}.key")
contexts:
- name: ${name}@inferops-local
  context:
    cluster: inferops-local
    user: ${name}
    namespace: default
current-context: ${name}@inferops-local
preferences: {}
EOF
  chmod 600 "${file}.tmp"
  mv "${file}.tmp" "${file}"
}

# ----------------------------------------------------------- processes -----

pidfile() { echo "${DIR}/pids/$1.pid"; }

# pid_of COMP: prints the pid if the recorded process is alive AND is ours
# (its command line mentions our state dir), so a recycled pid is never killed.
pid_of() {
  local f pid
  f="$(pidfile "$1")"
  [[ -s "${f}" ]] || return 1
  pid="$(<"${f}")"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/${pid}/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -qF -- "${DIR}/" || return 1
  echo "${pid}"
}

# start COMP ARGS...: detached (own session, stdio to the log), pid recorded.
start() {
  local comp="$1"
  shift
  local logf="${DIR}/logs/${comp}.log"
  printf '\n==== %s starting %s\n' "$(date -u +%FT%TZ)" "${comp}" >>"${logf}"
  setsid "$@" </dev/null >>"${logf}" 2>&1 &
  echo "$!" >"$(pidfile "${comp}")"
  disown "$!"
  STARTED+=("${comp}")
}

# stop_pids PID...: SIGTERM, wait up to INFEROPS_STOP_TIMEOUT (5) s, then SIGKILL.
stop_pids() {
  local pid
  for pid in "$@"; do
    kill -TERM "${pid}" 2>/dev/null || true
  done
  local deadline=$((SECONDS + ${INFEROPS_STOP_TIMEOUT:-5}))
  for pid in "$@"; do
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.1
    done
    if kill -0 "${pid}" 2>/dev/null; then
      log "pid ${pid} still running after SIGTERM, sending SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
    fi
  done
  for pid in "$@"; do
    while kill -0 "${pid}" 2>/dev/null; do sleep 0.05; done
  done
}

# Stop etcd last: it only exits promptly once its client (kube-apiserver) is gone.
# Each component takes ~2-3 s for its graceful shutdown, so the rest stop together.
stop_all() {
  local group c pid pids
  for group in "kwok kube-scheduler kube-controller-manager kube-apiserver" etcd; do
    pids=()
    for c in ${group}; do
      if pid="$(pid_of "${c}")"; then
        pids+=("${pid}")
      fi
    done
    if [[ ${#pids[@]} -gt 0 ]]; then
      stop_pids "${pids[@]}"
    fi
    for c in ${group}; do
      rm -f "$(pidfile "${c}")"
    done
  done
}

# Fail fast (with the log tail) if a process we started has exited.
check_alive() {
  local c
  for c in "${STARTED[@]}"; do
    if ! pid_of "${c}" >/dev/null; then
      log "${c} exited during startup; last lines of ${DIR}/logs/${c}.log:"
      tail -n 25 "${DIR}/logs/${c}.log" >&2 || true
      return 1
    fi
  done
}

# wait_for DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local what="$1"
  shift
  local deadline=$((UP_START + UP_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    check_alive || die "${what}: a component died"
    ((SECONDS < deadline)) || die "timed out after ${UP_TIMEOUT}s waiting for ${what}"
    sleep 0.2
  done
  log "  ${what}: ok at +$((SECONDS - UP_START))s"
}

# shellcheck disable=SC2317 # invoked indirectly
https_ok() {
  # https_ok URL: 200 from a loopback HTTPS endpoint using the admin client cert.
  curl -sf --max-time 2 --cacert "${DIR}/pki/ca.crt" \
    --cert "${DIR}/pki/admin.crt" --key "${DIR}/pki/admin.key" "$1"
}

# shellcheck disable=SC2317 # invoked indirectly
insecure_ok() {
  # kcm/scheduler serve /healthz with a self-signed cert; /healthz is always-allowed.
  curl -skf --max-time 2 "$1"
}

# ---------------------------------------------------------------- up -------

write_env() {
  local f="${DIR}/env" c pid
  {
    echo "# written by hack/controlplane/cluster.sh up at $(date -u +%FT%TZ); source it"
    printf 'export INFEROPS_CLUSTER_DIR=%q\n' "${DIR}"
    printf 'export KUBECONFIG=%q\n' "${DIR}/admin.kubeconfig"
    printf 'export INFEROPS_ADMIN_KUBECONFIG=%q\n' "${DIR}/admin.kubeconfig"
    printf 'export INFEROPS_OPERATOR_KUBECONFIG=%q\n' "${DIR}/operator.kubeconfig"
    printf 'export INFEROPS_APISERVER_URL=%q\n' "${API_URL}"
    printf 'export INFEROPS_APISERVER_PORT=%q\n' "${API_PORT}"
    printf 'export INFEROPS_CA_FILE=%q\n' "${DIR}/pki/ca.crt"
    printf 'export INFEROPS_ETCD_URL=%q\n' "http://127.0.0.1:${ETCD_PORT}"
    printf 'export INFEROPS_KUBE_VERSION=%q\n' "${KUBE_VERSION}"
    printf 'export INFEROPS_KWOK_NODE_ANNOTATION=%q\n' "${KWOK_NODE_ANNOTATION}"
    for c in "${COMPONENTS[@]}"; do
      pid="$(pid_of "${c}" || true)"
      local var="${c^^}"
      printf 'export INFEROPS_PID_%s=%q\n' "${var//-/_}" "${pid}"
    done
  } >"${f}.tmp"
  mv "${f}.tmp" "${f}"

  local j="${DIR}/cluster.json"
  {
    printf '{\n'
    printf '  "dir": "%s",\n' "${DIR}"
    printf '  "apiserverUrl": "%s",\n' "${API_URL}"
    printf '  "adminKubeconfig": "%s",\n' "${DIR}/admin.kubeconfig"
    printf '  "operatorKubeconfig": "%s",\n' "${DIR}/operator.kubeconfig"
    printf '  "caFile": "%s",\n' "${DIR}/pki/ca.crt"
    printf '  "etcdUrl": "http://127.0.0.1:%s",\n' "${ETCD_PORT}"
    printf '  "kubeVersion": "%s",\n' "${KUBE_VERSION}"
    printf '  "pids": {'
    local sep=""
    for c in "${COMPONENTS[@]}"; do
      pid="$(pid_of "${c}" || echo null)"
      printf '%s"%s": %s' "${sep}" "${c}" "${pid}"
      sep=", "
    done
    printf '}\n}\n'
  } >"${j}.tmp"
  mv "${j}.tmp" "${j}"
}

# shellcheck disable=SC2317 # invoked indirectly
on_up_exit() {
  local rc=$?
  if [[ ${rc} -ne 0 && ${#STARTED[@]} -gt 0 ]]; then
    log "startup failed (exit ${rc}); stopping what was started (logs kept in ${DIR}/logs)"
    stop_all || true
  fi
  exit "${rc}"
}

cmd_up() {
  UP_START=${SECONDS}
  STARTED=()
  command -v openssl >/dev/null || die "openssl is required"
  command -v curl >/dev/null || die "curl is required"
  command -v kubectl >/dev/null || die "kubectl is required"
  command -v ss >/dev/null || die "ss (iproute2) is required"

  mkdir -p "${DIR}"/{pids,logs,kubeconfigs,etcd,kwok}
  chmod 700 "${DIR}/etcd"

  # Already running? Reuse it when healthy, refuse a half-dead one.
  local c alive=() dead=()
  for c in "${COMPONENTS[@]}"; do
    if pid_of "${c}" >/dev/null; then alive+=("${c}"); else dead+=("${c}"); fi
  done
  if [[ ${#alive[@]} -gt 0 ]]; then
    if [[ ${#dead[@]} -eq 0 ]] && [[ -s "${DIR}/env" ]] &&
      KUBECONFIG="${DIR}/admin.kubeconfig" kubectl get --raw /readyz >/dev/null 2>&1; then
      log "cluster in ${DIR} is already up"
      echo "${DIR}/admin.kubeconfig"
      return 0
    fi
    die "cluster in ${DIR} is partially running (alive: ${alive[*]}; dead: ${dead[*]}); run '$0 down ${DIR}' first"
  fi

  ensure_binaries
  make_pki

  # Ports: reuse the previous ones when still free so old kubeconfigs keep working.
  local prev_etcd="" prev_peer="" prev_api="" prev_kcm="" prev_sched=""
  if [[ -s "${DIR}/ports" ]]; then
    # shellcheck disable=SC1091
    source "${DIR}/ports"
    prev_etcd="${ETCD_PORT:-}" prev_peer="${ETCD_PEER_PORT:-}" prev_api="${API_PORT:-}"
    prev_kcm="${KCM_PORT:-}" prev_sched="${SCHED_PORT:-}"
  fi
  pick_port ETCD_PORT "${prev_etcd}"
  pick_port ETCD_PEER_PORT "${prev_peer}"
  pick_port API_PORT "${prev_api}"
  pick_port KCM_PORT "${prev_kcm}"
  pick_port SCHED_PORT "${prev_sched}"
  printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPI_PORT=%s\nKCM_PORT=%s\nSCHED_PORT=%s\n' \
    "${ETCD_PORT}" "${ETCD_PEER_PORT}" "${API_PORT}" "${KCM_PORT}" "${SCHED_PORT}" >"${DIR}/ports"
  API_URL="https://127.0.0.1:${API_PORT}"

  local kc="${DIR}/kubeconfigs"
  write_kubeconfig "${DIR}/admin.kubeconfig" admin
  write_kubeconfig "${DIR}/operator.kubeconfig" operator
  write_kubeconfig "${kc}/kube-controller-manager.kubeconfig" kube-controller-manager
  write_kubeconfig "${kc}/kube-scheduler.kubeconfig" kube-scheduler
  write_kubeconfig "${kc}/kwok.kubeconfig" kwok

  # Audit: ServiceAccounts' requests only (no component and no test client runs as one), at Metadata level.
  cat >"${DIR}/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
POLICY

  trap on_up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
  local pki="${DIR}/pki"
  log "starting etcd on 127.0.0.1:${ETCD_PORT}, kube-apiserver on ${API_URL}"
  # --unsafe-no-fsync: throwaway test data; fsync dominates etcd latency on CI disks.
  start etcd "$(bin etcd)" \
    --name=inferops \
    --data-dir="${DIR}/etcd" \
    --listen-client-urls="http://127.0.0.1:${ETCD_PORT}" \
    --advertise-client-urls="http://127.0.0.1:${ETCD_PORT}" \
    --listen-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster="inferops=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster-state=new \
    --unsafe-no-fsync \
    --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
    --log-level=warn

  start kube-apiserver "$(bin kube-apiserver)" \
    --etcd-servers="http://127.0.0.1:${ETCD_PORT}" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="${API_PORT}" \
    --cert-dir="${pki}/apiserver-generated" \
    --tls-cert-file="${pki}/apiserver.crt" \
    --tls-private-key-file="${pki}/apiserver.key" \
    --client-ca-file="${pki}/ca.crt" \
    --requestheader-client-ca-file="${pki}/ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="${pki}/front-proxy-client.crt" \
    --proxy-client-key-file="${pki}/front-proxy-client.key" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="${pki}/sa.pub" \
    --service-account-signing-key-file="${pki}/sa.key" \
    --service-cluster-ip-range="${SERVICE_CIDR}" \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --audit-policy-file="${DIR}/audit-policy.yaml" \
    --audit-log-path="${DIR}/logs/audit.log" \
    --audit-log-format=json \
    --profiling="${PROFILING}"

  wait_for "kube-apiserver /readyz" https_ok "${API_URL}/readyz"
  # The controller-manager and scheduler exit (instead of retrying) when RBAC is
  # not bootstrapped yet, so they start only once /readyz passes.
  start kube-controller-manager "$(bin kube-controller-manager)" \
    --kubeconfig="${kc}/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="${kc}/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="${kc}/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="${KCM_PORT}" \
    --cert-dir="${pki}/kube-controller-manager-generated" \
    --leader-elect=false \
    --controllers='*' \
    --use-service-account-credentials="${KCM_SA_CREDENTIALS}" \
    --service-account-private-key-file="${pki}/sa.key" \
    --root-ca-file="${pki}/ca.crt" \
    --cluster-signing-cert-file="${pki}/ca.crt" \
    --cluster-signing-key-file="${pki}/ca.key" \
    --service-cluster-ip-range="${SERVICE_CIDR}" \
    --cluster-name=inferops \
    --profiling="${PROFILING}"

  start kube-scheduler "$(bin kube-scheduler)" \
    --kubeconfig="${kc}/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="${kc}/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="${kc}/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="${SCHED_PORT}" \
    --cert-dir="${pki}/kube-scheduler-generated" \
    --leader-elect=false \
    --profiling="${PROFILING}"

  # kwok: manages only nodes annotated kwok.x-k8s.io/node=fake (and their pods).
  # HOME is pointed into <dir> so a user's ~/.kwok/kwok.yaml is never merged in.
  start kwok env HOME="${DIR}/kwok" "$(bin kwok)" \
    --kubeconfig="${kc}/kwok.kubeconfig" \
    --config="$(dirname "$(bin kwok)")/stages.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector="${KWOK_NODE_ANNOTATION}" \
    --cidr="${POD_CIDR}" \
    --node-ip="${FAKE_NODE_IP}" \
    --node-lease-duration-seconds=40

  wait_for "kube-controller-manager /healthz" insecure_ok "https://127.0.0.1:${KCM_PORT}/healthz"
  wait_for "kube-scheduler /healthz" insecure_ok "https://127.0.0.1:${SCHED_PORT}/healthz"
  # Pods are only admitted once their ServiceAccount exists (ServiceAccount
  # admission); the controller-manager creates `default` in each namespace.
  wait_for "serviceaccount default/default" \
    kubectl --kubeconfig="${DIR}/admin.kubeconfig" -n default get serviceaccount default
  kubectl --kubeconfig="${DIR}/admin.kubeconfig" get --raw /readyz >/dev/null ||
    die "admin kubeconfig cannot reach /readyz"
  check_alive || die "a component died"

  write_env
  trap - EXIT INT TERM HUP
  log "cluster up in $((SECONDS - UP_START))s: ${API_URL} (state: ${DIR}; 'source ${DIR}/env')"
  echo "${DIR}/admin.kubeconfig"
}

cmd_down() {
  stop_all
  log "stopped all processes of ${DIR}"
  if [[ "${PURGE}" == 1 ]]; then
    rm -rf "${DIR}"
    log "removed ${DIR}"
  fi
}

cmd_status() {
  local c pid rc=0
  for c in "${COMPONENTS[@]}"; do
    if pid="$(pid_of "${c}")"; then
      printf '%-24s running (pid %s)\n' "${c}" "${pid}"
    else
      printf '%-24s stopped\n' "${c}"
      rc=1
    fi
  done
  return "${rc}"
}

main() {
  [[ $# -ge 2 ]] || usage
  local cmd="$1"
  shift
  local d="" a
  PURGE=0
  for a in "$@"; do
    case "${a}" in
      --purge) PURGE=1 ;;
      -*) die "unknown flag ${a}" ;;
      *) [[ -z "${d}" ]] || die "only one <dir> allowed"; d="${a}" ;;
    esac
  done
  [[ -n "${d}" ]] || usage
  if [[ "${cmd}" == up ]]; then
    mkdir -p "${d}"
  elif [[ ! -d "${d}" ]]; then
    log "no such dir ${d}; nothing to do"
    [[ "${cmd}" == down ]] && return 0
    return 1
  fi
  DIR="$(cd "${d}" && pwd -P)"
  case "${cmd}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) usage ;;
  esac
}

main "$@"; exit $?
