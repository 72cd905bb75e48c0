#!/usr/bin/env bash
# Builds the two binaries of certkeeper's test control plane, kube-apiserver and etcd, from the Go module
# proxy (no download site can be reached, so nothing prebuilt is used). Each binary has its own wrapper
# module beside this script, pinning the upstream release and, for Kubernetes, routing every staging
# module to its published v0.X.Y (see shared/reference/dependencies.md §C2, §C3).
#
#   tools/envtest/build.sh           build if needed; prints the bin directory on stdout
#   tools/envtest/build.sh --check   print the bin directory if it is up to date, else exit 1
#
# Output: ${CERTKEEPER_CACHE:-$HOME/.cache/certkeeper}/envtest/<k8s>-<etcd>/bin/{kube-apiserver,etcd}.
# The module and build caches live under the same root so a machine (or CI) builds once. A stamp of the
# inputs (go.mod, go.sum, this script, the Go version) makes a warm run a no-op.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${CERTKEEPER_CACHE:-$HOME/.cache/certkeeper}"
ROOT="$CACHE/envtest"

mode=build
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

say() { printf 'envtest: %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then
        PATH="/usr/local/go/bin:$PATH"
    else
        say "Go >= 1.26 is needed to build kube-apiserver and etcd (go not found on PATH)"
        exit 1
    fi
fi

# The version of a required module, read from a go.mod (single source of truth for the pins).
required_version() {
    awk -v m="$1" '($1 == m || ($1 == "require" && $2 == m)) { for (i = 2; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$2"
}

K8S_VERSION="$(required_version k8s.io/kubernetes "$HERE/kube-apiserver/go.mod")"
ETCD_VERSION="$(required_version go.etcd.io/etcd/server/v3 "$HERE/etcd/go.mod")"
if [ -z "$K8S_VERSION" ] || [ -z "$ETCD_VERSION" ]; then
    say "cannot read the pinned versions from $HERE/*/go.mod"
    exit 1
fi

# Every staging module must be replaced by the release that matches k8s.io/kubernetes (v1.X.Y -> v0.X.Y);
# a half-bumped go.mod would otherwise build a mixed apiserver.
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
mismatched="$(awk -v want="$STAGING_VERSION" '{ o = ($1 == "replace") }
    $(o + 2) == "=>" && $(o + 1) ~ /^k8s\.io\// && $(o + 4) != want { print $(o + 1) " " $(o + 4) }' \
    "$HERE/kube-apiserver/go.mod")"
if [ -n "$mismatched" ]; then
    say "staging modules not at $STAGING_VERSION in kube-apiserver/go.mod:"
    printf '  %s\n' "$mismatched" >&2
    exit 1
fi

K8S_MINOR="${K8S_VERSION#v1.}"
K8S_MINOR="${K8S_MINOR%%.*}"
OUT="$ROOT/$K8S_VERSION-$ETCD_VERSION"
BIN="$OUT/bin"

stamp() {
    {
        go version
        cat "$HERE/build.sh" "$HERE/kube-apiserver/go.mod" "$HERE/kube-apiserver/go.sum" \
            "$HERE/etcd/go.mod" "$HERE/etcd/go.sum"
    } | sha256sum | cut -d' ' -f1
}
WANT="$(stamp)"

up_to_date() {
    [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ] && [ -f "$BIN/.stamp" ] && [ "$(cat "$BIN/.stamp")" = "$WANT" ]
}

if up_to_date; then
    echo "$BIN"
    exit 0
fi
if [ "$mode" = check ]; then
    say "kube-apiserver $K8S_VERSION and etcd $ETCD_VERSION are not built yet: run $HERE/build.sh"
    exit 1
fi

mkdir -p "$ROOT"
# Two test runs on one machine must not build into the same directory at once.
exec 9>"$ROOT/.lock"
flock 9
if up_to_date; then
    echo "$BIN"
    exit 0
fi

export GOMODCACHE="$ROOT/go/mod"
export GOCACHE="$ROOT/go/build"
export GOTOOLCHAIN=local
export GOWORK=off
# Static binaries like upstream's release builds; no C toolchain needed.
export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false -trimpath"

TMP="$OUT/bin.tmp.$$"
rm -rf "$TMP"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT

start=$SECONDS
say "building kube-apiserver $K8S_VERSION (cold: about 15 minutes on 2 cores)"
# Without these, /version reports v0.0.0-master with empty major/minor (component-base/version/base.go).
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR -X $pkg.gitTreeState=clean"
done
(cd "$HERE/kube-apiserver" && go build -ldflags "$ldflags" -o "$TMP/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
say "kube-apiserver built in $((SECONDS - start))s"

mid=$SECONDS
say "building etcd $ETCD_VERSION"
(cd "$HERE/etcd" && go build -ldflags "-s -w" -o "$TMP/etcd" go.etcd.io/etcd/server/v3)
say "etcd built in $((SECONDS - mid))s"

echo "$WANT" >"$TMP/.stamp"
rm -rf "$BIN"
mv "$TMP" "$BIN"
trap - EXIT
say "done in $((SECONDS - start))s: $BIN"
echo "$BIN"
