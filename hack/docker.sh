#!/usr/bin/env bash
# A Docker engine for the image and chart suites, started only when none answers.
#
#   hack/docker.sh up     when `docker info` answers, prints "reused"; otherwise starts Debian's dockerd with no
#                         bridge network and no iptables rules (containers use the host network only) and
#                         prints "started <pid>". Needs root and dockerd (hack/system-deps.sh installs docker.io).
#   hack/docker.sh down   stops the dockerd this script started (by the pid it recorded), and nothing else;
#                         while containers still run on it (another run's), it is left running.
#   hack/docker.sh check  exit 0 when an engine answers, else prints why not and exits 1.
#
# Its pid file and log live under ${INFEROPS_CACHE:-~/.cache/inferops}/docker/; images stay in dockerd's
# default data root, so the layer cache survives between runs.
set -euo pipefail
CACHE_DIR="${INFEROPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inferops}"
STATE="${CACHE_DIR}/docker"
PIDFILE="${STATE}/dockerd.pid"
LOG="${STATE}/dockerd.log"
TIMEOUT="${INFEROPS_DOCKER_TIMEOUT:-60}"

log() { printf '[docker] %s\n' "$*" >&2; }
die() { printf '[docker] ERROR: %s\n' "$*" >&2; exit 1; }

answers() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

# The recorded pid, when that process is alive and is a dockerd (a recycled pid is never touched).
our_pid() {
  [[ -s "${PIDFILE}" ]] || return 1
  local pid
  pid="$(<"${PIDFILE}")"
  [[ "${pid}" =~ ^[0-9]+$ && -r "/proc/${pid}/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- "--pidfile ${PIDFILE}" || return 1
  echo "${pid}"
}

cmd_up() {
  command -v docker >/dev/null || die "no docker client on PATH (hack/system-deps.sh installs docker.io)"
  if answers; then
    echo reused
    return 0
  fi
  command -v dockerd >/dev/null || die "no Docker engine answers and dockerd is not installed (hack/system-deps.sh installs docker.io)"
  [[ $(id -u) -eq 0 ]] || die "no Docker engine answers; starting dockerd needs root"
  if our_pid >/dev/null; then
    die "the dockerd started earlier ($(our_pid)) is running but does not answer; see ${LOG}, or run $0 down"
  fi
  mkdir -p "${STATE}"
  rm -f "${PIDFILE}"
  log "starting dockerd (no bridge, no iptables; log ${LOG})"
  printf '\n==== %s dockerd starting\n' "$(date -u +%FT%TZ)" >>"${LOG}"
  # Never a bridge or any other network: containers run with --network host.
  setsid dockerd --bridge=none --iptables=false --ip-masq=false --pidfile "${PIDFILE}" \
    </dev/null >>"${LOG}" 2>&1 &
  local pid=$!
  disown "${pid}"
  local deadline=$((SECONDS + TIMEOUT))
  until answers; do
    kill -0 "${pid}" 2>/dev/null || { tail -n 20 "${LOG}" >&2; die "dockerd exited during startup"; }
    ((SECONDS < deadline)) || { kill -TERM "${pid}" 2>/dev/null || true; die "dockerd did not answer within ${TIMEOUT}s; see ${LOG}"; }
    sleep 0.2
  done
  log "dockerd ${pid} answers"
  echo "started ${pid}"
}

cmd_down() {
  local pid
  if ! pid="$(our_pid)"; then
    log "no dockerd started by this script is running"
    return 0
  fi
  # Another run on this machine may be using it (it reused the engine this script started): leave it then.
  if [[ -n "$(docker ps -q 2>/dev/null)" ]]; then
    log "containers still run on dockerd ${pid}: left running (stop it later with $0 down)"
    return 0
  fi
  kill -TERM "${pid}"
  local deadline=$((SECONDS + 20))
  while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "${pid}" 2>/dev/null; then
    log "dockerd ${pid} still running after 20 s, sending SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
  fi
  log "stopped dockerd ${pid}"
}

cmd_check() {
  command -v docker >/dev/null || { echo "no docker client on PATH"; return 1; }
  answers || { echo "no Docker engine answers \`docker info\`"; return 1; }
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  check) cmd_check ;;
  *) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
