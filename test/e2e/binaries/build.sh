#!/usr/bin/env bash
# Build kube-apiserver, kubectl and etcd from Go modules served by the Go module
# proxy, and keep them in a version-keyed cache outside the repository.
#
# The end-to-end suite starts these binaries as local processes, so it needs no
# container engine. See README.md beside this script for usage and for the flags
# that start a minimal API server.
set -euo pipefail

# Versions known to build with Go 1.26.8 on linux/amd64. CI uses these, so it
# never has to probe the proxy. Override with PMG_KUBE_VERSION / PMG_ETCD_VERSION.
readonly PINNED_KUBE_VERSION=v1.37.2
readonly PINNED_ETCD_VERSION=v3.6.17

readonly KUBE_MODULE=k8s.io/kubernetes
readonly ETCD_MODULE=go.etcd.io/etcd/server/v3
# Module path of the generated wrapper modules. The .invalid top-level domain is
# reserved, so this path can never resolve to a real module.
readonly WRAPPER_MODULE_PREFIX=phi-mesh-guard.invalid/binaries

usage() {
  cat <<'EOF'
Usage: build.sh [--probe] [--force] [--cached-only] [--help]

Builds kube-apiserver, kubectl and etcd from the Go module proxy, or reuses
them from the cache, then prints lines for a test harness on stdout:

  KUBE_VERSION=v1.37.2
  ETCD_VERSION=v3.6.17
  KUBE_APISERVER=/abs/path/kube-apiserver
  KUBECTL=/abs/path/kubectl
  ETCD=/abs/path/etcd

The same lines are written to $CACHE/binaries.env. Progress goes to stderr.

Options:
  --probe        ignore the pinned Kubernetes version and try the newest
                 patch release of each of the newest minor releases that the
                 proxy serves, newest first, until one builds
  --force        rebuild even when the cache already has the binaries
  --cached-only  never build: print the lines if the binaries are cached,
                 otherwise exit 3
  -h, --help     print this help

Environment:
  PHI_MESH_GUARD_CACHE  cache root (default: $HOME/.cache/phi-mesh-guard)
  PMG_KUBE_VERSION      Kubernetes release to build (default: the pinned one)
  PMG_ETCD_VERSION      etcd release to build (default: the pinned one)
  PMG_PROBE_MINORS      number of minor releases that --probe tries (default: 4)
  GO                    go command (default: go on PATH, else /usr/local/go/bin/go)
  GOTOOLCHAIN           passed to go (default: local, so go never downloads
                        another toolchain on its own)

Binaries land in $CACHE/kube/<version>/ and $CACHE/etcd/<version>/.
Exit status: 0 on success, 1 on a failed build, 2 on a usage error,
3 when --cached-only finds nothing.
EOF
}

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- arguments

probe=false
force=false
cached_only=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --probe) probe=true ;;
    --force) force=true ;;
    --cached-only) cached_only=true ;;
    -h|--help) usage; exit 0 ;;
    *) printf 'build.sh: error: unknown argument %q (see --help)\n' "$1" >&2; exit 2 ;;
  esac
  shift
done

cache_root=${PHI_MESH_GUARD_CACHE:-$HOME/.cache/phi-mesh-guard}
kube_version=${PMG_KUBE_VERSION:-$PINNED_KUBE_VERSION}
etcd_version=${PMG_ETCD_VERSION:-$PINNED_ETCD_VERSION}
probe_minors=${PMG_PROBE_MINORS:-4}

[[ $kube_version =~ ^v1\.[0-9]+\.[0-9]+$ ]] \
  || { log "error: PMG_KUBE_VERSION must look like v1.37.2, got '$kube_version'"; exit 2; }
[[ $etcd_version =~ ^v3\.[0-9]+\.[0-9]+$ ]] \
  || { log "error: PMG_ETCD_VERSION must look like v3.6.17, got '$etcd_version'"; exit 2; }
[[ $probe_minors =~ ^[1-9][0-9]*$ ]] \
  || { log "error: PMG_PROBE_MINORS must be a positive integer, got '$probe_minors'"; exit 2; }

# Resolve the path without creating it, so a rejected path leaves nothing behind.
cache_root=$(realpath -m -- "$cache_root")

# The wrapper modules, logs and binaries live in the cache. Inside the
# repository they would show up as untracked files and could get committed.
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(git -C "$script_dir" rev-parse --show-toplevel 2>/dev/null || true)
if [[ -n $repo_root && ( $cache_root == "$repo_root" || $cache_root == "$repo_root"/* ) ]]; then
  log "error: PHI_MESH_GUARD_CACHE=$cache_root is inside the repository $repo_root; choose a directory outside it"
  exit 2
fi

mkdir -p "$cache_root"

kube_dir() { printf '%s/kube/%s' "$cache_root" "$1"; }
etcd_dir() { printf '%s/etcd/%s' "$cache_root" "$1"; }

# A build directory counts as complete only once BUILD-INFO exists, because
# the script writes that file after every binary has been checked.
kube_cached() {
  local dir; dir=$(kube_dir "$1")
  [[ -f $dir/BUILD-INFO && -x $dir/kube-apiserver && -x $dir/kubectl ]]
}
etcd_cached() {
  local dir; dir=$(etcd_dir "$1")
  [[ -f $dir/BUILD-INFO && -x $dir/etcd ]]
}

print_result() {
  local kdir edir lines
  kdir=$(kube_dir "$kube_version")
  edir=$(etcd_dir "$etcd_version")
  lines="KUBE_VERSION=$kube_version
ETCD_VERSION=$etcd_version
KUBE_APISERVER=$kdir/kube-apiserver
KUBECTL=$kdir/kubectl
ETCD=$edir/etcd"
  printf '%s\n' "$lines" > "$cache_root/binaries.env.tmp.$$"
  mv -f "$cache_root/binaries.env.tmp.$$" "$cache_root/binaries.env"
  log "binaries are in $kdir and $edir (also listed in $cache_root/binaries.env)"
  printf '%s\n' "$lines"
}

# ---------------------------------------------------------------- fast path

# With the pinned (or overridden) versions cached, nothing below runs and go
# is not needed at all.
if ! $force && ! $probe && kube_cached "$kube_version" && etcd_cached "$etcd_version"; then
  print_result
  exit 0
fi
if $cached_only; then
  if $probe; then log "error: --cached-only and --probe exclude each other"; exit 2; fi
  kube_cached "$kube_version" || log "not cached: $(kube_dir "$kube_version")"
  etcd_cached "$etcd_version" || log "not cached: $(etcd_dir "$etcd_version")"
  exit 3
fi

# ---------------------------------------------------------------- tools

# Remove half-built output directories when the script stops early.
trap 'rm -rf "$cache_root"/kube/*.tmp.$$ "$cache_root"/etcd/*.tmp.$$ "$cache_root"/work/download.stderr.$$' EXIT

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x $GO ]] || command -v "$GO" >/dev/null 2>&1 \
  || die "go not found; install Go or set GO=/path/to/go"
command -v jq >/dev/null 2>&1 || die "jq not found; install it (apt-get install jq)"

export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOWORK=off
# -mod=mod lets go add the missing go.sum lines of the generated wrapper
# modules. This replaces any GOFLAGS from the environment on purpose.
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

go_version=$("$GO" env GOVERSION)
log "using $go_version ($GO), GOTOOLCHAIN=$GOTOOLCHAIN, cache $cache_root"

# Runs that share one cache, such as two CI jobs on one machine, take turns.
mkdir -p "$cache_root/work"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_root/.build.lock"
  if ! flock -n 9; then
    log "another build.sh holds $cache_root/.build.lock; waiting for it"
    flock 9
  fi
fi

# ---------------------------------------------------------------- helpers

# go_at_least NEED: true when the running go is at least version NEED (e.g. 1.26.0).
go_at_least() {
  local have=${go_version#go}
  [[ $(printf '%s\n%s\n' "$1" "$have" | sort -V | head -n1) == "$1" ]]
}

# download_module MODULE@VERSION: print the path of its go.mod file on stdout.
# On failure print the proxy's error and return 1.
download_module() {
  local json error stderr_file=$cache_root/work/download.stderr.$$
  json=$("$GO" mod download -json "$1" 2>"$stderr_file") || true
  error=$(jq -r '.Error // empty' <<<"$json" 2>/dev/null || true)
  if [[ -z $json || -n $error ]]; then
    log "error: the Go module proxy does not serve $1: ${error:-$(cat "$stderr_file")}"
    rm -f "$stderr_file"
    return 1
  fi
  rm -f "$stderr_file"
  jq -r '.GoMod' <<<"$json"
}

# report_missing_modules LOG_FILE: print the lines of go output that name a
# module or a Go version that go could not get.
report_missing_modules() {
  local output_file=$1 lines
  lines=$(grep -E 'reading https?://|unknown revision|invalid version|no matching versions|not found|missing go\.sum entry|requires go >=' "$output_file" | sort -u | head -n 20 || true)
  if [[ -n $lines ]]; then
    log "the go command could not get everything it needs:"
    sed 's/^/  /' <<<"$lines" >&2
  fi
}

# run_go LOG_FILE ARGS...: run go at low priority, keep its output in LOG_FILE.
run_go() {
  local log_file=$1; shift
  if nice -n 10 "$GO" "$@" >"$log_file" 2>&1; then
    return 0
  fi
  log "failed: go $*"
  tail -n 30 "$log_file" | sed 's/^/  | /' >&2
  report_missing_modules "$log_file"
  return 1
}

# write_wrapper_module DIR NAME GO_LINE GOMOD_JSON REQUIREMENT [REPLACEMENT...]:
# write a go.mod that requires REQUIREMENT (module@version) and replaces each
# REPLACEMENT (module@version) with that version. It copies the go line and the
# godebug settings of the target module, so the binaries get the same runtime
# defaults as an upstream build of that module.
write_wrapper_module() {
  local dir=$1 name=$2 go_line=$3 gomod_json=$4 requirement=$5 replacement
  shift 5
  # go.sum stays from the last build, so go need not look its lines up again.
  mkdir -p "$dir"
  rm -rf "$dir/go.mod" "$dir/cmd"
  {
    printf '// Generated by test/e2e/binaries/build.sh of phi-mesh-guard; rewritten on every build.\n'
    printf 'module %s/%s\n\ngo %s\n' "$WRAPPER_MODULE_PREFIX" "$name" "$go_line"
    jq -r '(.GoDebug // [])[] | "godebug \(.Key)=\(.Value)"' <<<"$gomod_json"
    printf '\nrequire %s %s\n' "${requirement%@*}" "${requirement##*@}"
    if [[ $# -gt 0 ]]; then
      printf '\nreplace (\n'
      for replacement in "$@"; do
        printf '\t%s => %s %s\n' "${replacement%@*}" "${replacement%@*}" "${replacement##*@}"
      done
      printf ')\n'
    fi
  } > "$dir/go.mod"
  # Let go check the syntax now, so a mistake shows up before the long build.
  (cd "$dir" && "$GO" mod edit -fmt)
}

# ---------------------------------------------------------------- kubernetes

# version_ldflags PACKAGES VERSION DATE: the -X flags that set the version
# variables in each package, as the release's own hack/lib/version.sh does.
version_ldflags() {
  local packages=$1 version=$2 build_date=$3 pkg major minor flags=()
  major=${version#v}; major=${major%%.*}
  minor=${version#v*.}; minor=${minor%%.*}
  for pkg in $packages; do
    flags+=(
      "-X=$pkg.gitVersion=$version"
      "-X=$pkg.gitMajor=$major"
      "-X=$pkg.gitMinor=$minor"
      # A module zip carries no git metadata. "archive" is the state the
      # release scripts report for a tree without a .git directory.
      "-X=$pkg.gitTreeState=archive"
      "-X=$pkg.gitCommit="
      "-X=$pkg.buildDate=$build_date"
    )
  done
  printf '%s ' "${flags[@]}"
}

# build_kube VERSION: build kube-apiserver and kubectl into the cache.
build_kube() {
  local version=$1 minor staging_version gomod gomod_json go_line
  local source_dir info_file build_date packages work out module
  local staged=() replacements=() required missing=0 started seconds ldflags
  minor=${version#v1.}; minor=${minor%%.*}
  staging_version=v0.$minor.${version##*.}

  log "kubernetes $version: fetching $KUBE_MODULE@$version"
  gomod=$(download_module "$KUBE_MODULE@$version") || return 1
  gomod_json=$("$GO" mod edit -json "$gomod")
  go_line=$(jq -r '.Go // empty' <<<"$gomod_json")
  if [[ -z $go_line ]]; then
    log "error: the go.mod of $KUBE_MODULE@$version has no go directive, so this release is too old for this script; choose a newer one"
    return 1
  fi
  if ! go_at_least "$go_line"; then
    log "error: $KUBE_MODULE@$version needs Go >= $go_line, but this is $go_version (GOTOOLCHAIN=$GOTOOLCHAIN)"
    return 1
  fi

  # The release's go.mod replaces each staging module with a directory in its
  # own tree. Those directories are separate modules, so the module zip leaves
  # them out: replace each one with its published v0.Y.Z version instead.
  mapfile -t staged < <(jq -r '(.Replace // [])[] | select(.New.Path | startswith("./staging/src/")) | .Old.Path' <<<"$gomod_json")
  [[ ${#staged[@]} -gt 0 ]] || { log "error: $KUBE_MODULE@$version lists no ./staging/src replacements in its go.mod"; return 1; }
  required=$(jq -r '(.Require // [])[] | .Path' <<<"$gomod_json")

  log "kubernetes $version: checking ${#staged[@]} staging modules at $staging_version"
  local args=() results path error
  for module in "${staged[@]}"; do args+=("$module@$staging_version"); done
  results=$("$GO" mod download -json "${args[@]}" 2>/dev/null || true)
  for module in "${staged[@]}"; do
    error=$(jq -r --arg p "$module" 'select(.Path == $p) | .Error // empty' <<<"$results")
    path=$(jq -r --arg p "$module" 'select(.Path == $p) | .Path' <<<"$results")
    if [[ -z $path ]]; then
      error="no answer from go mod download"
    fi
    if [[ -z $error ]]; then
      replacements+=("$module@$staging_version")
    elif grep -qxF "$module" <<<"$required"; then
      log "error: $KUBE_MODULE@$version requires $module, and the Go module proxy does not serve $module@$staging_version: $error"
      missing=1
    else
      # Some modules, such as k8s.io/sample-controller in v1.37.2, are in the
      # replace list but in no require line, so no build of this release uses them.
      log "note: $module@$staging_version is not served, and $KUBE_MODULE@$version does not require it, so it gets no replace line (${error%%$'\n'*})"
    fi
  done
  [[ $missing -eq 0 ]] || return 1

  work=$cache_root/work/kube-$version
  write_wrapper_module "$work" "kube-$version" "$go_line" "$gomod_json" \
    "$KUBE_MODULE@$version" "${replacements[@]}"

  # Take the version variables' packages from the release's own build script.
  source_dir=$(jq -r '.Dir' <<<"$("$GO" mod download -json "$KUBE_MODULE@$version")")
  packages=$(grep -oE -- "-X '[a-z0-9./_-]+[.][\$][{]key[}]" "$source_dir/hack/lib/version.sh" 2>/dev/null \
    | sed -E "s/^-X '//; s/[.][\$][{]key[}]\$//" | sort -u | tr '\n' ' ' || true)
  if [[ -z ${packages// /} ]]; then
    packages="k8s.io/component-base/version k8s.io/client-go/pkg/version"
    log "note: found no -X lines in hack/lib/version.sh; using $packages"
  fi
  # The release time from the proxy keeps buildDate the same on every rebuild.
  info_file=${gomod%.mod}.info
  build_date=$(jq -r '.Time // empty' "$info_file" 2>/dev/null || true)
  [[ -n $build_date ]] || build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ldflags="-s -w $(version_ldflags "$packages" "$version" "$build_date")"
  log "kubernetes $version: version variables in: $packages"

  out=$(kube_dir "$version").tmp.$$
  rm -rf "$out"
  mkdir -p "$out"
  local binary total_start=$SECONDS timings=""
  for binary in kube-apiserver kubectl; do
    log "kubernetes $version: building $binary (several minutes on 2 cores when the Go build cache is cold; log: $work/build-$binary.log)"
    started=$SECONDS
    if ! (cd "$work" && run_go "$work/build-$binary.log" build -trimpath -ldflags="$ldflags" \
        -o "$out/$binary" "$KUBE_MODULE/cmd/$binary"); then
      rm -rf "$out"
      return 1
    fi
    seconds=$((SECONDS - started))
    timings+="build_seconds_$binary=$seconds"$'\n'
    log "kubernetes $version: $binary built in ${seconds}s"
  done

  local reported
  reported=$("$out/kube-apiserver" --version 2>&1 || true)
  if [[ $reported != "Kubernetes $version" ]]; then
    log "error: kube-apiserver --version printed '$reported', expected 'Kubernetes $version'"
    rm -rf "$out"; return 1
  fi
  reported=$("$out/kubectl" version --client 2>&1 || true)
  if ! grep -qx "Client Version: $version" <<<"$reported"; then
    log "error: kubectl version --client printed '$reported', expected a line 'Client Version: $version'"
    rm -rf "$out"; return 1
  fi

  {
    echo "module=$KUBE_MODULE@$version"
    echo "staging_version=$staging_version"
    echo "go=$go_version"
    echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '%s' "$timings"
    echo "build_seconds_total=$((SECONDS - total_start))"
    echo "wrapper_module=$work"
  } > "$out/BUILD-INFO"
  rm -rf "$(kube_dir "$version")"
  mv "$out" "$(kube_dir "$version")"
  log "kubernetes $version: done in $((SECONDS - total_start))s"
}

# ---------------------------------------------------------------- etcd

# build_etcd VERSION: build the etcd server binary into the cache.
build_etcd() {
  local version=$1 gomod gomod_json go_line source_dir work out started reported
  log "etcd $version: fetching $ETCD_MODULE@$version"
  gomod=$(download_module "$ETCD_MODULE@$version") || return 1
  gomod_json=$("$GO" mod edit -json "$gomod")
  go_line=$(jq -r '.Go // empty' <<<"$gomod_json")
  if [[ -z $go_line ]]; then
    log "error: the go.mod of $ETCD_MODULE@$version has no go directive, so this release is too old for this script; choose a newer one"
    return 1
  fi
  if ! go_at_least "$go_line"; then
    log "error: $ETCD_MODULE@$version needs Go >= $go_line, but this is $go_version (GOTOOLCHAIN=$GOTOOLCHAIN)"
    return 1
  fi

  # In v3.6.17 the server module's root package is the etcd program itself
  # (package main calling etcdmain.Main). When a release lacks it, the wrapper
  # module gets its own main package with that call.
  source_dir=$(jq -r '.Dir' <<<"$("$GO" mod download -json "$ETCD_MODULE@$version")")
  work=$cache_root/work/etcd-$version
  write_wrapper_module "$work" "etcd-$version" "$go_line" "$gomod_json" "$ETCD_MODULE@$version"
  local target=$ETCD_MODULE
  if ! grep -qx 'package main' "$source_dir/main.go" 2>/dev/null; then
    [[ -d $source_dir/etcdmain ]] || { log "error: $ETCD_MODULE@$version has neither a main package nor etcdmain"; return 1; }
    mkdir -p "$work/cmd/etcd"
    cat > "$work/cmd/etcd/main.go" <<EOF
// Command etcd runs the etcd server of $ETCD_MODULE@$version.
package main

import (
	"os"

	"$ETCD_MODULE/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
EOF
    target=./cmd/etcd
    log "etcd $version: the module has no main package at its root; using a wrapper main in $work/cmd/etcd"
  fi

  out=$(etcd_dir "$version").tmp.$$
  rm -rf "$out"
  mkdir -p "$out"
  log "etcd $version: building etcd (log: $work/build-etcd.log)"
  started=$SECONDS
  if ! (cd "$work" && run_go "$work/build-etcd.log" build -trimpath \
      -ldflags="-s -w -X=go.etcd.io/etcd/api/v3/version.GitSHA=module-$version" \
      -o "$out/etcd" "$target"); then
    rm -rf "$out"
    return 1
  fi

  reported=$("$out/etcd" --version 2>&1 || true)
  if ! grep -qx "etcd Version: ${version#v}" <<<"$reported"; then
    log "error: etcd --version printed '$reported', expected a line 'etcd Version: ${version#v}'"
    rm -rf "$out"; return 1
  fi
  {
    echo "module=$ETCD_MODULE@$version"
    echo "go=$go_version"
    echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_seconds_etcd=$((SECONDS - started))"
    echo "wrapper_module=$work"
  } > "$out/BUILD-INFO"
  rm -rf "$(etcd_dir "$version")"
  mv "$out" "$(etcd_dir "$version")"
  log "etcd $version: built in $((SECONDS - started))s"
}

# ---------------------------------------------------------------- probing

# probe_candidates: the newest patch release of each of the newest
# $probe_minors minor releases the proxy lists, newest first.
probe_candidates() {
  local listed
  listed=$("$GO" list -m -versions "$KUBE_MODULE" 2>&1) \
    || die "go list -m -versions $KUBE_MODULE failed: $listed"
  tr ' ' '\n' <<<"$listed" | grep -E '^v1\.[0-9]+\.[0-9]+$' | sort -V -r \
    | awk -F. '!seen[$2]++' | head -n "$probe_minors"
}

# ---------------------------------------------------------------- main

if $probe; then
  mapfile -t candidates < <(probe_candidates)
  [[ ${#candidates[@]} -gt 0 ]] || die "the proxy lists no release of $KUBE_MODULE"
  log "probing, newest first: ${candidates[*]}"
  kube_version=""
  for candidate in "${candidates[@]}"; do
    if ! $force && kube_cached "$candidate"; then
      kube_version=$candidate; break
    fi
    if build_kube "$candidate"; then
      kube_version=$candidate; break
    fi
    log "kubernetes $candidate did not build; trying the next release"
  done
  [[ -n $kube_version ]] || die "none of ${candidates[*]} built; see the errors above"
  if [[ $kube_version != "$PINNED_KUBE_VERSION" ]]; then
    log "the newest release that builds is $kube_version; pin it in PINNED_KUBE_VERSION in $script_dir/build.sh"
  fi
elif $force || ! kube_cached "$kube_version"; then
  build_kube "$kube_version" || die "could not build Kubernetes $kube_version; see the errors above"
else
  log "kubernetes $kube_version: cached in $(kube_dir "$kube_version")"
fi

if $force || ! etcd_cached "$etcd_version"; then
  build_etcd "$etcd_version" || die "could not build etcd $etcd_version; see the errors above"
else
  log "etcd $etcd_version: cached in $(etcd_dir "$etcd_version")"
fi

print_result
