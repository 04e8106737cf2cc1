#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy (no git, no release downloads) for the
# realapi test tier, or reuses them from ${MESHTUI_KUBE_CACHE:-~/.cache/meshtui/kube}/<k8s-version>/.
#
# stdout: exactly two lines, `KUBE_APISERVER=<path>` then `ETCD=<path>`; progress and timing go to stderr.
# Nothing is written inside the repository.
set -euo pipefail

K8S_VERSION="${MESHTUI_K8S_VERSION:-v1.37.2}"
# The etcd that Kubernetes v1.37.2 itself pins (build/dependencies.yaml, kubeadm DefaultEtcdVersion 3.7.0-0).
ETCD_VERSION="${MESHTUI_ETCD_VERSION:-v3.7.0}"
CACHE_DIR="${MESHTUI_KUBE_CACHE:-$HOME/.cache/meshtui/kube}/${K8S_VERSION}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
JOBS="${MESHTUI_KUBE_BUILD_JOBS:-2}"

APISERVER_BIN="$CACHE_DIR/kube-apiserver"
ETCD_BIN="$CACHE_DIR/etcd"

log() { printf '[kube-build] %s\n' "$*" >&2; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

apiserver_ok() {
  local out
  [[ -x $APISERVER_BIN ]] || return 1
  out=$("$APISERVER_BIN" --version 2>/dev/null) || return 1
  [[ $out == "Kubernetes ${K8S_VERSION}" ]]
}

etcd_ok() {
  local out
  [[ -x $ETCD_BIN ]] || return 1
  out=$("$ETCD_BIN" --version 2>/dev/null) || return 1
  [[ $out == *"etcd Version: ${ETCD_VERSION#v}"* ]]
}

T0=$EPOCHREALTIME
mkdir -p "$CACHE_DIR"
# Serialises concurrent callers (e.g. several pytest workers) on the same cache directory.
exec 9>"$CACHE_DIR/.lock"
flock 9

if apiserver_ok && etcd_ok; then
  log "cached: kube-apiserver ${K8S_VERSION}, etcd ${ETCD_VERSION} in $CACHE_DIR ($(elapsed "$T0")s)"
  printf 'KUBE_APISERVER=%s\nETCD=%s\n' "$APISERVER_BIN" "$ETCD_BIN"
  exit 0
fi

[[ -x $GO ]] || { log "go not found (set GO=/path/to/go)"; exit 1; }
log "using $("$GO" version), GOMODCACHE=$("$GO" env GOMODCACHE)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshtui-kube-build.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export GOFLAGS="-mod=mod${GOFLAGS:+ $GOFLAGS}"
# Static binaries like the official release builds; also avoids needing a C toolchain.
export CGO_ENABLED=0

# Runs a long, otherwise silent step with its stderr in a log, and every PROGRESS_EVERY seconds says
# how far it got: the log's line count, in `unit` (`go build -v` logs a package per line, `go get` a
# module download per line; cached work logs nothing); on failure, the log's tail.
PROGRESS_EVERY="${MESHTUI_KUBE_PROGRESS_SECONDS:-20}"
run_logged() {
  local what=$1 unit=$2 logfile=$3 t=$EPOCHREALTIME pid ticks=0 rc=0
  shift 3
  "$@" 2>"$logfile" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( ++ticks % PROGRESS_EVERY == 0 )) && kill -0 "$pid" 2>/dev/null; then
      log "$what: $(wc -l <"$logfile") $unit so far, $(elapsed "$t")s"
    fi
  done
  wait "$pid" || rc=$?
  if (( rc != 0 )); then
    tail -n 40 "$logfile" >&2
    log "$what failed (exit $rc)"
  fi
  return "$rc"
}

build_apiserver() {
  local t mod_json gomod info minor staging ldflags p m build_time
  t=$EPOCHREALTIME
  mkdir "$WORK/apiserver" && cd "$WORK/apiserver"
  "$GO" mod init meshtui.invalid/kube-apiserver-build >/dev/null 2>&1

  if ! mod_json=$("$GO" mod download -json "k8s.io/kubernetes@${K8S_VERSION}"); then
    log "go mod download k8s.io/kubernetes@${K8S_VERSION} failed: $mod_json"
    return 1
  fi
  gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$mod_json")
  info=$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",\{0,1\}$/\1/p' <<<"$mod_json")
  [[ -f $gomod ]] || { log "no go.mod for k8s.io/kubernetes@${K8S_VERSION}: $mod_json"; return 1; }

  # k8s.io/kubernetes requires its staging repos as `k8s.io/<name> v0.0.0` and points them at
  # ./staging with replace directives, which do not apply to a dependency: re-point each of them at
  # its published v0.<minor>.<patch> tag instead.
  staging=$(awk '
    /^require[[:space:]]*\(/ { inreq = 1; next }
    inreq && /^\)/ { inreq = 0; next }
    inreq && $1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }
    $1 == "require" && $2 ~ /^k8s\.io\// && $3 == "v0.0.0" { print $2 }
  ' "$gomod")
  [[ -n $staging ]] || { log "found no k8s.io/* v0.0.0 requirements in $gomod"; return 1; }
  local staging_version="v0.${K8S_VERSION#v1.}"
  local edits=("-require=k8s.io/kubernetes@${K8S_VERSION}")
  for m in $staging; do edits+=("-replace=${m}=${m}@${staging_version}"); done
  "$GO" mod edit "${edits[@]}"
  log "kube-apiserver: k8s.io/kubernetes ${K8S_VERSION}, $(wc -w <<<"$staging") staging modules -> ${staging_version}"

  log "kube-apiserver: resolving modules (a first run downloads a few hundred MB)"
  run_logged "kube-apiserver: go get" "modules fetched" "$WORK/apiserver-get.log" \
    "$GO" get "k8s.io/kubernetes/cmd/kube-apiserver@${K8S_VERSION}" || return 1
  log "kube-apiserver: modules resolved ($(elapsed "$t")s)"

  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  # The module's publication time keeps the binary reproducible while /version still shows a date.
  build_time=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info" 2>/dev/null || true)
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${p}.gitVersion=${K8S_VERSION} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${minor}"
    ldflags+=" -X ${p}.gitTreeState=clean"
    if [[ -n $build_time ]]; then ldflags+=" -X ${p}.buildDate=${build_time}"; fi
  done
  log "kube-apiserver: compiling (several minutes on 2 cores; progress counts packages)"
  run_logged "kube-apiserver: go build" "packages compiled" "$WORK/apiserver-build.log" \
    "$GO" build -v -p "$JOBS" -trimpath -ldflags "$ldflags" -o "$APISERVER_BIN.tmp" \
    k8s.io/kubernetes/cmd/kube-apiserver || return 1
  mv -f "$APISERVER_BIN.tmp" "$APISERVER_BIN"
  cp go.mod "$CACHE_DIR/kube-apiserver.go.mod"
  log "kube-apiserver: built in $(elapsed "$t")s"
}

build_etcd() {
  local t
  t=$EPOCHREALTIME
  mkdir "$WORK/etcd" && cd "$WORK/etcd"
  "$GO" mod init meshtui.invalid/etcd-build >/dev/null 2>&1
  # server/v3 is the etcd binary's main package (server/main.go -> etcdmain.Main); as a dependency its
  # own go.mod pins api/client/pkg/raft at the same release, so no replace directives are needed.
  run_logged "etcd: go get" "modules fetched" "$WORK/etcd-get.log" "$GO" get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" || return 1
  log "etcd: modules resolved ($(elapsed "$t")s)"
  log "etcd: compiling (progress counts packages)"
  run_logged "etcd: go build" "packages compiled" "$WORK/etcd-build.log" \
    "$GO" build -v -p "$JOBS" -trimpath -ldflags "-s -w" -o "$ETCD_BIN.tmp" go.etcd.io/etcd/server/v3 || return 1
  mv -f "$ETCD_BIN.tmp" "$ETCD_BIN"
  cp go.mod "$CACHE_DIR/etcd.go.mod"
  log "etcd: built in $(elapsed "$t")s"
}

# Not `ok || build`: set -e is suspended inside a function called from an || list.
if ! apiserver_ok; then build_apiserver; fi
if ! etcd_ok; then build_etcd; fi

apiserver_ok || { log "built kube-apiserver does not report ${K8S_VERSION}: $("$APISERVER_BIN" --version 2>&1 || true)"; exit 1; }
etcd_ok || { log "built etcd does not report ${ETCD_VERSION}: $("$ETCD_BIN" --version 2>&1 || true)"; exit 1; }
log "sizes: $(du -h "$APISERVER_BIN" | cut -f1) kube-apiserver, $(du -h "$ETCD_BIN" | cut -f1) etcd"
log "done in $(elapsed "$T0")s"
printf 'KUBE_APISERVER=%s\nETCD=%s\n' "$APISERVER_BIN" "$ETCD_BIN"
