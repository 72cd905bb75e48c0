# shellcheck shell=bash
# Shared setup for scripts/: a pinned Python environment cached outside the repository, and the
# system tools the tests talk to. Every function is idempotent and cheap when its work is already done.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${CERTKEEPER_CACHE:-$HOME/.cache/certkeeper}"

log() { printf '==> %s\n' "$*" >&2; }

# The virtualenv is keyed by the lock file, so a dependency change builds a fresh one and a warm run
# only re-links the editable install of this checkout.
ensure_python_env() {
    local python="${PYTHON:-python3}"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "certkeeper needs Python >= 3.11 (found $("$python" --version))" >&2; exit 1; }
    local key
    key="$(cat "$REPO_ROOT/requirements/lock.txt" | sha256sum | cut -c1-16)"
    VENV="$CACHE_DIR/venv-$key"
    if [ ! -f "$VENV/.complete" ]; then
        log "creating Python environment $VENV"
        rm -rf "$VENV"
        mkdir -p "$CACHE_DIR"
        "$python" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
            -r "$REPO_ROOT/requirements/lock.txt"
        touch "$VENV/.complete"
    fi
    local where
    where="$("$VENV/bin/python" -c 'import certkeeper, os; print(os.path.dirname(certkeeper.__file__))' 2>/dev/null || true)"
    if [ "$where" != "$REPO_ROOT/src/certkeeper" ]; then
        log "installing certkeeper from $REPO_ROOT (editable)"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
            --no-build-isolation -e "$REPO_ROOT"
    fi
    export PATH="$VENV/bin:$PATH"
}

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        apt_updated=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# openssl and keytool check what pki writes (certificates, PKCS#12, JKS).
ensure_system_tools() {
    command -v openssl >/dev/null || apt_install openssl
    command -v keytool >/dev/null || apt_install default-jre-headless
}

# kube-apiserver and etcd for the integration tests, built from the Go module proxy by tools/envtest
# (minutes when cold, cached under $CACHE_DIR/envtest, a no-op when warm). Exports their paths.
ensure_envtest() {
    command -v go >/dev/null || [ -x /usr/local/go/bin/go ] \
        || { echo "building kube-apiserver and etcd needs Go >= 1.26 (the machine image provides it)" >&2; exit 1; }
    local bin
    bin="$(CERTKEEPER_CACHE="$CACHE_DIR" "$REPO_ROOT/tools/envtest/build.sh")"
    export CERTKEEPER_KUBE_APISERVER="$bin/kube-apiserver"
    export CERTKEEPER_ETCD="$bin/etcd"
    log "envtest: $bin"
}

# pebble for the ACME tests: Debian's package (2.4.0, which also ships pebble-challtestsrv), plus the
# current pebble/v2 built from the Go module proxy for what 2.4.0 lacks (ARI renewalInfo, profiles,
# `replaces`). The build is cached under $CACHE_DIR/pebble-<version> (seconds when cold, a no-op when
# warm) and never enters the repository. Exports both paths for tests/harness/pebble.py.
PEBBLE_MODULE_VERSION="v2.10.3"
ensure_pebble() {
    command -v pebble >/dev/null || apt_install pebble
    local dir="$CACHE_DIR/pebble-$PEBBLE_MODULE_VERSION"
    if [ ! -x "$dir/bin/pebble" ]; then
        local go=go
        command -v go >/dev/null || go=/usr/local/go/bin/go
        [ -x "$(command -v "$go")" ] \
            || { echo "building pebble $PEBBLE_MODULE_VERSION needs Go (the machine image provides it)" >&2; exit 1; }
        log "building pebble $PEBBLE_MODULE_VERSION from the Go module proxy"
        rm -rf "$dir/bin.partial"
        mkdir -p "$dir"
        GOBIN="$dir/bin.partial" GOFLAGS=-trimpath "$go" install \
            "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_MODULE_VERSION"
        mv "$dir/bin.partial" "$dir/bin"
    fi
    CERTKEEPER_PEBBLE="$(command -v pebble)"
    CERTKEEPER_PEBBLE_CURRENT="$dir/bin/pebble"
    export CERTKEEPER_PEBBLE CERTKEEPER_PEBBLE_CURRENT
    log "pebble: $CERTKEEPER_PEBBLE (Debian), $CERTKEEPER_PEBBLE_CURRENT ($PEBBLE_MODULE_VERSION)"
}

# The helm v3 CLI for the chart tests (tests/unit/deploy), built from the Go module proxy by tools/helm
# (minutes when cold, cached under $CACHE_DIR/helm, a no-op when warm). Exports its path.
ensure_helm() {
    command -v go >/dev/null || [ -x /usr/local/go/bin/go ] \
        || { echo "building helm needs Go >= 1.26 (the machine image provides it)" >&2; exit 1; }
    CERTKEEPER_HELM="$(CERTKEEPER_CACHE="$CACHE_DIR" "$REPO_ROOT/tools/helm/build.sh")"
    export CERTKEEPER_HELM
    log "helm: $CERTKEEPER_HELM"
}

# BIND 9 (named, named-checkconf) for the RFC 2136 + TSIG DNS-01 tests; tests/harness/bind.py runs it
# on a loopback port as the test user. /usr/sbin is not on every user's PATH, hence the explicit path.
ensure_bind() {
    if ! command -v named >/dev/null && [ ! -x /usr/sbin/named ]; then
        apt_install bind9 bind9-utils
    fi
    command -v named-checkconf >/dev/null || apt_install bind9-utils
}
