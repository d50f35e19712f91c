# shellcheck shell=bash
# Sourced by scripts/check-deploy.sh and scripts/cluster.sh: makes `go` at least Go
# 1.${GO_MIN_MINOR:-24} (the pinned deploy tools need 1.24, etcd 3.5.35 needs 1.26). A go that is older (Debian 12's
# golang-go is 1.19, which predates GOTOOLCHAIN) gets the pinned toolchain GO_TOOLCHAIN the
# way GOTOOLCHAIN would fetch it: the module golang.org/toolchain from the Go module proxy,
# into the module cache, once; its bin/ then comes first on PATH.
#   needs: GO_TOOLCHAIN_DIR (a writable directory for `go mod download`); GO_MIN_MINOR
GO_TOOLCHAIN=go1.27.3

if ! command -v go >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go
fi
go_minor() { go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p'; }
go_min="${GO_MIN_MINOR:-24}"
if [ "$(go_minor)" -lt "${go_min}" ] 2>/dev/null || [ -z "$(go_minor)" ]; then
  mkdir -p "${GO_TOOLCHAIN_DIR}"
  echo "$(go env GOVERSION) is older than go1.${go_min}; using ${GO_TOOLCHAIN} (Go module proxy, once)" >&2
  toolchain="$(cd "${GO_TOOLCHAIN_DIR}" && GO111MODULE=on go mod download -json \
    "golang.org/toolchain@v0.0.1-${GO_TOOLCHAIN}.$(go env GOOS)-$(go env GOARCH)" \
    | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))')"
  # Module zips keep no execute bits; the go command sets them the same way on first use.
  chmod a+x "${toolchain}"/bin/* "${toolchain}"/pkg/tool/*/*
  export PATH="${toolchain}/bin:${PATH}"
fi
if [ "$(go_minor)" -lt "${go_min}" ]; then
  echo "Go >= 1.${go_min} is needed; found $(go env GOVERSION)" >&2
  exit 1
fi
# The go command never switches toolchains by itself: builds use exactly this one.
export GOTOOLCHAIN=local
