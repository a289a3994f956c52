#!/usr/bin/env bash
# Install the operations tools the tests check deploy/ with, idempotently:
#   - promtool + prometheus from Debian's `prometheus` package (its system service is NOT started
#     or enabled: tests run their own server on their own port, see tests/integration/test_prometheus.py);
#   - podman from Debian (only `podman version` is used: podman-compose checks for it before `config`);
#   - helm, built from the Go module proxy into <repo>/.local/bin (a re-run with the same version
#     does nothing; Go's module and build caches make a rebuild in a fresh clone fast).
#
#   deploy/local/ops-tools.sh            # install what is missing
#   deploy/local/ops-tools.sh --print    # show where the tools are
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HELM_VERSION=${ARGUS_HELM_VERSION:-v3.22.0}
BIN=$ROOT/.local/bin

install_prometheus() {
  if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && command -v podman >/dev/null 2>&1; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "ops-tools: promtool missing; run as root or: sudo apt-get install -y prometheus" >&2
    exit 1
  fi
  # policy-rc.d exit 101 tells the package scripts not to start the service (restored after).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus podman >/dev/null || {
    if ((made_policy)); then rm -f "$policy"; fi
    echo "ops-tools: apt-get install prometheus podman failed" >&2
    exit 1
  }
  if ((made_policy)); then rm -f "$policy"; fi
  # Some init systems start it anyway; the tests never use that instance, but do not leave it enabled.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
}

install_helm() {
  # `go install` leaves helm's version ldflags unset (it reports v3.22), so a stamp file records it.
  if [ -x "$BIN/helm" ] && [ "$(cat "$BIN/helm.version" 2>/dev/null)" = "$HELM_VERSION" ]; then
    return
  fi
  command -v go >/dev/null 2>&1 || { echo "ops-tools: go not found (needed to build helm)" >&2; exit 1; }
  mkdir -p "$BIN"
  local started=$SECONDS
  (cd /tmp && GOBIN=$BIN GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  echo "$HELM_VERSION" >"$BIN/helm.version"
  echo "ops-tools: built helm $HELM_VERSION in $((SECONDS - started))s"
}

case ${1:-} in
  --print)
    echo "promtool: $(command -v promtool || echo missing)"
    echo "prometheus: $(command -v prometheus || echo missing)"
    echo "helm: $([ -x "$BIN/helm" ] && echo "$BIN/helm" || echo missing)"
    ;;
  "")
    install_prometheus
    install_helm
    echo "ops-tools: promtool $(promtool --version 2>&1 | awk 'NR==1{print $3}'), helm $(cat "$BIN/helm.version")"
    ;;
  *)
    echo "usage: $0 [--print]" >&2
    exit 2
    ;;
esac
