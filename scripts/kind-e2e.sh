#!/usr/bin/env bash
# Runs the end-to-end suite against phi-mesh-guard installed in a local kind
# cluster. The script creates the cluster from kind-config.yaml, builds and loads
# the image, and installs the test copies of the Istio CRDs and the guard with
# its own certificates. After the rollout it runs vitest.e2e.config.ts. The
# cluster is deleted on exit, whether the run passed or failed.
#
# Needs docker (with a running daemon), kind, kubectl, node and npm.
# Exit status: the suite's status; 1 when a setup step fails; 2 when a required
# tool is missing or the cluster name is already taken.
set -euo pipefail

readonly cluster_name=phi-mesh-guard-e2e
readonly image=phi-mesh-guard:e2e
readonly namespace=phi-mesh-guard
readonly service=phi-mesh-guard

usage() {
  cat <<'EOF'
Usage: scripts/kind-e2e.sh [--keep-cluster] [--help]

Creates the kind cluster phi-mesh-guard-e2e, installs phi-mesh-guard in it and
runs the end-to-end suite (npx vitest run --config vitest.e2e.config.ts) with
KUBECONFIG pointing at the cluster. The cluster is deleted on exit.

Options:
  --keep-cluster   leave the cluster running after the run, for debugging;
                   delete it later with: kind delete cluster --name phi-mesh-guard-e2e
  -h, --help       print this help

Environment:
  KIND_NODE_IMAGE  kind node image (default: the installed kind release's default)

Exit status: the suite's status; 1 when a setup step fails; 2 when docker,
kind, kubectl, node or npm is missing, the Docker daemon does not respond, or a
kind cluster named phi-mesh-guard-e2e already exists.
EOF
}

log() { printf 'kind-e2e: %s\n' "$*" >&2; }
stop_setup() { printf 'kind-e2e: error: %s\n' "$*" >&2; exit 2; }

keep_cluster=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep-cluster) keep_cluster=true ;;
    -h|--help) usage; exit 0 ;;
    *) printf 'kind-e2e: error: unknown argument %q (see --help)\n' "$1" >&2; exit 2 ;;
  esac
  shift
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"

# ------------------------------------------------------------ preconditions

for tool in docker kind kubectl node npm; do
  command -v "$tool" >/dev/null 2>&1 || stop_setup "$tool not found on PATH; this script needs docker, kind, kubectl, node and npm"
done
if ! docker_error=$(docker info --format '{{.ServerVersion}}' 2>&1 >/dev/null); then
  stop_setup "the Docker daemon does not respond (docker info: ${docker_error:-no output}); start Docker and run again"
fi
if kind get clusters 2>/dev/null | grep -qx "$cluster_name"; then
  stop_setup "a kind cluster named $cluster_name already exists; delete it with: kind delete cluster --name $cluster_name"
fi
[[ -f vitest.e2e.config.ts ]] || stop_setup "vitest.e2e.config.ts not found in $repo"

# ------------------------------------------------------------ cleanup

work=$(mktemp -d "${TMPDIR:-/tmp}/phi-mesh-guard-kind.XXXXXX")
export KUBECONFIG="$work/kubeconfig"
cluster_created=false

print_diagnostics() {
  log "diagnostics for the failed run:"
  kubectl get pods --all-namespaces -o wide >&2 || true
  kubectl -n "$namespace" describe deployment,pods >&2 || true
  kubectl -n "$namespace" logs --selector app.kubernetes.io/name=phi-mesh-guard --all-containers --tail=100 --prefix >&2 || true
}

cleanup() {
  local status=$?
  if [[ $cluster_created == true ]]; then
    if [[ $status -ne 0 ]]; then
      print_diagnostics
    fi
    if [[ $keep_cluster == true ]]; then
      log "kept cluster $cluster_name; kubeconfig: $KUBECONFIG (the folder $work is kept too)"
      exit "$status"
    fi
    log "deleting cluster $cluster_name"
    kind delete cluster --name "$cluster_name" >&2 || log "could not delete cluster $cluster_name; run: kind delete cluster --name $cluster_name"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

guard() { npx --no-install tsx src/cli/main.ts "$@"; }

# ------------------------------------------------------------ cluster and image

log "creating kind cluster $cluster_name"
create_args=(--name "$cluster_name" --config kind-config.yaml --kubeconfig "$KUBECONFIG" --wait 180s)
if [[ -n ${KIND_NODE_IMAGE:-} ]]; then
  create_args+=(--image "$KIND_NODE_IMAGE")
fi
# Set before the call, so that a cluster left half-created is deleted too.
cluster_created=true
kind create cluster "${create_args[@]}"

log "building image $image"
docker build --tag "$image" .
log "loading $image into the cluster's nodes"
kind load docker-image "$image" --name "$cluster_name"

# ------------------------------------------------------------ install

log "installing the test copies of the Istio CRDs"
kubectl apply -f test/crds/istio-crds.yaml
kubectl wait --for=condition=Established --timeout=60s -f test/crds/istio-crds.yaml

log "creating the webhook's certificates"
guard certs --service "$service" --namespace "$namespace" --out "$work/certs" >/dev/null
kubectl create namespace "$namespace" --save-config
kubectl -n "$namespace" create secret tls phi-mesh-guard-tls \
  --cert "$work/certs/tls.crt" --key "$work/certs/tls.key"

log "installing phi-mesh-guard"
guard manifests --namespace "$namespace" --service "$service" --image "$image" --certs "$work/certs" >"$work/phi-mesh-guard.yaml"
kubectl apply -f "$work/phi-mesh-guard.yaml"
kubectl -n "$namespace" rollout status deployment/phi-mesh-guard --timeout=180s

# ------------------------------------------------------------ suite

log "running the end-to-end suite"
PHI_MESH_GUARD_E2E_CLUSTER=kind \
PHI_MESH_GUARD_E2E_NAMESPACE="$namespace" \
  npx --no-install vitest run --config vitest.e2e.config.ts
