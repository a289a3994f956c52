#!/usr/bin/env bash
# Print the path of a cargo that can build argus_native (native/): cargo >= 1.78, because
# native/Cargo.lock is lockfile v4 (Debian 12's cargo, Rust 1.65, fails on it mid-build and unclearly).
# PATH's cargo first, then rustup's default place (~/.cargo/bin, not on a non-login shell's PATH).
# Without one: a line naming rustup on stderr, exit 1. deploy/local/install.sh runs it.
set -euo pipefail
MIN=1.78.0

recent() {  # whether cargo binary $1 reports a version >= MIN
  local version
  version=$("$1" --version 2>/dev/null | awk '{print $2}') || return 1
  [ -n "$version" ] && [ "$(printf '%s\n' "$MIN" "${version%%-*}" | sort -V | head -n1)" = "$MIN" ]
}

for candidate in "$(command -v cargo || true)" "$HOME/.cargo/bin/cargo"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && recent "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done
echo "install: argus_native (native/) needs cargo >= $MIN (Rust from https://rustup.rs); found: $(cargo --version 2>/dev/null || echo none)" >&2
exit 1
