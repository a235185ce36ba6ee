#!/usr/bin/env bash
# Start etcd and kube-apiserver from the build.sh cache on loopback, wait until
# the API server is ready, list namespaces with kubectl, then stop both.
#
# It uses the same minimal flags that README.md documents for the TypeScript
# harness, so a green run here means those flags still work for the cached
# release. Everything it creates lives in one temporary directory.
set -euo pipefail

log() { printf 'smoke.sh: %s\n' "$*" >&2; }
die() { printf 'smoke.sh: error: %s\n' "$*" >&2; exit 1; }

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

# The lines that build.sh prints are KEY=/path pairs without spaces.
binaries=$("$script_dir/build.sh" --cached-only) \
  || die "the binaries are not cached; run $script_dir/build.sh first"
KUBE_APISERVER=$(sed -n 's/^KUBE_APISERVER=//p' <<<"$binaries")
KUBECTL=$(sed -n 's/^KUBECTL=//p' <<<"$binaries")
ETCD=$(sed -n 's/^ETCD=//p' <<<"$binaries")

command -v openssl >/dev/null 2>&1 || die "openssl not found; install it (apt-get install openssl)"
command -v curl >/dev/null 2>&1 || die "curl not found; install it (apt-get install curl)"

work=$(mktemp -d "${TMPDIR:-/tmp}/phi-mesh-guard-smoke.XXXXXX")
etcd_pid=""
apiserver_pid=""

stop_process() {
  local pid=$1 name=$2
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; log "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) did not stop within 10s of SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  stop_process "$apiserver_pid" kube-apiserver
  stop_process "$etcd_pid" etcd
  if [[ ${KEEP_SMOKE_DIR:-} == 1 ]]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# free_port: print a TCP port on 127.0.0.1 that nothing listens on. Another
# process could take it before the server binds, so callers see a bind error
# in the server log in that rare case.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  die "found no free port on 127.0.0.1 after 50 tries"
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.2 s until it succeeds.
# Return 1 once SECONDS have passed.
wait_for() {
  local timeout=$1 deadline
  shift
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.2
  done
}

etcd_client_port=$(free_port)
etcd_peer_port=$(free_port)
apiserver_port=$(free_port)
[[ $etcd_peer_port != "$etcd_client_port" ]] || etcd_peer_port=$(free_port)

# ---------------------------------------------------------------- etcd

log "starting etcd on 127.0.0.1:$etcd_client_port (peer 127.0.0.1:$etcd_peer_port), data in $work/etcd-data"
started=$SECONDS
"$ETCD" \
  --name=e2e \
  --data-dir="$work/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$etcd_client_port" \
  --advertise-client-urls="http://127.0.0.1:$etcd_client_port" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster="e2e=http://127.0.0.1:$etcd_peer_port" \
  --unsafe-no-fsync \
  --log-level=warn \
  >"$work/etcd.log" 2>&1 &
etcd_pid=$!

if ! wait_for 30 curl -fsS "http://127.0.0.1:$etcd_client_port/health"; then
  tail -n 30 "$work/etcd.log" >&2
  die "etcd did not report healthy within 30s"
fi
log "etcd is healthy after $((SECONDS - started))s: $(curl -fsS "http://127.0.0.1:$etcd_client_port/health")"

# ---------------------------------------------------------------- kube-apiserver

token=$(openssl rand -hex 24)
# Static token file columns: token, user name, user UID, groups. Members of
# system:masters pass every RBAC check.
printf '%s,e2e-admin,e2e-admin,"system:masters"\n' "$token" > "$work/tokens.csv"
openssl genrsa -out "$work/service-account.key" 2048 2>/dev/null

log "starting kube-apiserver on 127.0.0.1:$apiserver_port"
started=$SECONDS
"$KUBE_APISERVER" \
  --bind-address=127.0.0.1 \
  --secure-port="$apiserver_port" \
  --advertise-address=127.0.0.1 \
  --cert-dir="$work/apiserver-certs" \
  --etcd-servers="http://127.0.0.1:$etcd_client_port" \
  --storage-backend=etcd3 \
  --token-auth-file="$work/tokens.csv" \
  --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-account-key-file="$work/service-account.key" \
  --service-account-signing-key-file="$work/service-account.key" \
  --service-cluster-ip-range=10.0.0.0/24 \
  --endpoint-reconciler-type=none \
  >"$work/kube-apiserver.log" 2>&1 &
apiserver_pid=$!

readyz() {
  kill -0 "$apiserver_pid" 2>/dev/null || return 2
  [[ $(curl -ksS -H "Authorization: Bearer $token" "https://127.0.0.1:$apiserver_port/readyz") == ok ]]
}
if ! wait_for 120 readyz; then
  tail -n 40 "$work/kube-apiserver.log" >&2
  die "kube-apiserver was not ready within 120s (log above)"
fi
log "kube-apiserver is ready after $((SECONDS - started))s"

# apiserver.crt in --cert-dir contains the serving certificate followed by the
# self-signed CA that issued it, so a client can verify TLS with that file.
curl -fsS --cacert "$work/apiserver-certs/apiserver.crt" -H "Authorization: Bearer $token" \
  "https://127.0.0.1:$apiserver_port/readyz" >/dev/null \
  || die "TLS verification against $work/apiserver-certs/apiserver.crt failed"
log "TLS verifies with --cacert $work/apiserver-certs/apiserver.crt"

log "resident memory: etcd $(ps -o rss= -p "$etcd_pid" | tr -d ' ') KiB, kube-apiserver $(ps -o rss= -p "$apiserver_pid" | tr -d ' ') KiB"

log "listening sockets of the two processes (all must be on 127.0.0.1):"
ss -Hltnp 2>/dev/null | grep -E "pid=($etcd_pid|$apiserver_pid)," | awk '{print "  " $4}' >&2 || true

# ---------------------------------------------------------------- kubectl

kubectl_args=(--server="https://127.0.0.1:$apiserver_port" --token="$token" --insecure-skip-tls-verify)
log "kubectl get ns:"
"$KUBECTL" "${kubectl_args[@]}" get ns
namespaces=$("$KUBECTL" "${kubectl_args[@]}" get ns -o name)
grep -qx 'namespace/default' <<<"$namespaces" || die "kubectl get ns did not list namespace/default"
grep -qx 'namespace/kube-system' <<<"$namespaces" || die "kubectl get ns did not list namespace/kube-system"

log "kubectl version:"
"$KUBECTL" "${kubectl_args[@]}" version

log "smoke test passed"
