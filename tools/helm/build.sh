#!/usr/bin/env bash
# Builds the helm v3 CLI that certkeeper's chart tests render deploy/charts/certkeeper with. No download site
# can be reached, so helm comes from the Go module proxy: go.mod beside this script is a wrapper module that
# pins helm.sh/helm/v3 (a `tool` dependency) and go.sum pins every module it pulls in.
#
#   tools/helm/build.sh           build if needed; prints the path of the helm binary on stdout
#   tools/helm/build.sh --check   print the path if the binary is up to date, else exit 1
#
# Output: ${CERTKEEPER_CACHE:-$HOME/.cache/certkeeper}/helm/<version>/helm. The Go module and build caches
# are the ones tools/envtest/build.sh uses (both builds need k8s.io modules; one download serves both).
# A stamp of the inputs (go.mod, go.sum, this script, the Go version) makes a warm run a no-op.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${CERTKEEPER_CACHE:-$HOME/.cache/certkeeper}"

mode=build
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

say() { printf 'helm: %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then
        PATH="/usr/local/go/bin:$PATH"
    else
        say "Go >= 1.26 is needed to build helm (go not found on PATH)"
        exit 1
    fi
fi

# The version of a required module, read from go.mod (the single source of truth for the pin).
required_version() {
    awk -v m="$1" '($1 == m || ($1 == "require" && $2 == m)) { for (i = 2; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$2"
}

HELM_VERSION="$(required_version helm.sh/helm/v3 "$HERE/go.mod")"
K8S_CLIENT_VERSION="$(required_version k8s.io/client-go "$HERE/go.mod")"
if [ -z "$HELM_VERSION" ] || [ -z "$K8S_CLIENT_VERSION" ]; then
    say "cannot read the pinned helm and client-go versions from $HERE/go.mod"
    exit 1
fi

OUT="$CACHE/helm/$HELM_VERSION"
BIN="$OUT/helm"

stamp() {
    {
        go version
        cat "$HERE/build.sh" "$HERE/go.mod" "$HERE/go.sum"
    } | sha256sum | cut -d' ' -f1
}
WANT="$(stamp)"

up_to_date() {
    [ -x "$BIN" ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$WANT" ]
}

if up_to_date; then
    echo "$BIN"
    exit 0
fi
if [ "$mode" = check ]; then
    say "helm $HELM_VERSION is not built yet: run $HERE/build.sh"
    exit 1
fi

mkdir -p "$OUT"
# Two test runs on one machine must not build into the same directory at once.
exec 9>"$OUT/.lock"
flock 9
if up_to_date; then
    echo "$BIN"
    exit 0
fi

export GOMODCACHE="$CACHE/envtest/go/mod"
export GOCACHE="$CACHE/envtest/go/build"
export GOTOOLCHAIN=local
export GOWORK=off
# A static binary like helm's release builds; no C toolchain needed.
export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false -trimpath"

# What helm's Makefile sets: its own version (otherwise `helm version` prints only "v3.X"), and the
# Kubernetes version that `helm template` reports as .Capabilities.KubeVersion (client-go v0.X.Y -> 1.X).
k8s_minor="${K8S_CLIENT_VERSION#v0.}"
k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

TMP="$OUT/helm.tmp.$$"
trap 'rm -f "$TMP"' EXIT

start=$SECONDS
say "building helm $HELM_VERSION (cold: about 3.5 minutes on 2 cores)"
(cd "$HERE" && go build -ldflags "$ldflags" -o "$TMP" helm.sh/helm/v3/cmd/helm)
mv "$TMP" "$BIN"
trap - EXIT
echo "$WANT" >"$OUT/.stamp"
say "done in $((SECONDS - start))s: $BIN"
echo "$BIN"
