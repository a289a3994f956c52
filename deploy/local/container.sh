#!/usr/bin/env bash
# Build the Argus image without a registry and smoke-test it (docs/operations.md, "Container image"):
# a Debian bookworm base from debootstrap, `buildah bud --isolation chroot`, then `argus --help` and
# `argus db upgrade` (SQLite) run inside the image with `buildah run --isolation chroot`.
# Slow (~25 min on 2 busy cores; not part of CI). Needs root and Debian's buildah + debootstrap.
#
#   deploy/local/container.sh            # base (cached in .local/container) + image + smoke test
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROOTFS=$ROOT/.local/container/rootfs
BASE=localhost/argus-base:bookworm
IMAGE=${ARGUS_IMAGE:-localhost/argus:dev}
BUILDAH=(buildah --storage-driver vfs)  # overlay needs kernel support this sandbox lacks
# The machine's CA bundle, bind-mounted for RUN steps only (pip behind a TLS-inspecting proxy);
# never copied into the image.
CA=${ARGUS_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

command -v buildah >/dev/null && command -v debootstrap >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends buildah debootstrap

if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
  rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOTFS" \
    http://deb.debian.org/debian
fi
if ! "${BUILDAH[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
  ctr=$("${BUILDAH[@]}" from scratch)
  mnt=$("${BUILDAH[@]}" mount "$ctr")
  cp -a "$ROOTFS/." "$mnt/"
  "${BUILDAH[@]}" umount "$ctr"
  "${BUILDAH[@]}" commit "$ctr" "$BASE"
  "${BUILDAH[@]}" rm "$ctr"
fi
volume=()
[ -f "$CA" ] && volume=(--volume "$CA:/etc/ssl/certs/ca-certificates.crt:ro")
"${BUILDAH[@]}" bud --isolation chroot "${volume[@]}" --build-arg "BASE_IMAGE=$BASE" \
  -f "$ROOT/deploy/container/Dockerfile" -t "$IMAGE" "$ROOT"
ctr=$("${BUILDAH[@]}" from "$IMAGE")
trap '"${BUILDAH[@]}" rm "$ctr" >/dev/null' EXIT
"${BUILDAH[@]}" run --isolation chroot "$ctr" -- argus --help
"${BUILDAH[@]}" run --isolation chroot --env ARGUS_DATABASE_URL=sqlite:////tmp/smoke.db "$ctr" -- argus db upgrade
echo "container: $IMAGE built; argus --help and argus db upgrade ran inside it"
