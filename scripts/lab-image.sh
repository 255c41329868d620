#!/usr/bin/env bash
# Build the lab base image localhost/safeq-lab:bookworm once (idempotent).
#
# No container registry is reachable, so the image is bootstrapped locally:
#   debootstrap --variant=minbase --include=python3,iproute2,nftables bookworm ROOTFS MIRROR
#   tar -C ROOTFS -c . | podman import - localhost/safeq-lab:bookworm
# MIRROR is the first URIs line of /etc/apt/sources.list.d/debian.sources (override: LAB_MIRROR).
# Then a smoke test runs python3 and nft inside a throw-away container (runc, explicit ulimits,
# no network).
#
# Usage: scripts/lab-image.sh [--force]     (--force rebuilds even if the image exists)
# Env:   LAB_IMAGE (default localhost/safeq-lab:bookworm), LAB_MIRROR, LAB_SUITE (default bookworm)
set -euo pipefail

image=${LAB_IMAGE:-localhost/safeq-lab:bookworm}
suite=${LAB_SUITE:-bookworm}
force=0
[ "${1:-}" = "--force" ] && force=1

podman=(podman --runtime runc)
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[lab-image] %s\n' "$*"; }

t_total=$(now)
if [ "$force" -eq 0 ] && "${podman[@]}" image exists "$image"; then
  log "$image already present, nothing to do ($(elapsed "$t_total") s)"
  exit 0
fi

for tool in debootstrap podman runc tar; do
  command -v "$tool" >/dev/null 2>&1 || { log "missing $tool: run scripts/setup.sh first" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { log "debootstrap needs root" >&2; exit 1; }

mirror=${LAB_MIRROR:-}
if [ -z "$mirror" ]; then
  sources=/etc/apt/sources.list.d/debian.sources
  [ -r "$sources" ] || { log "cannot read $sources; set LAB_MIRROR" >&2; exit 1; }
  mirror=$(awk '/^URIs:/ { print $2; exit }' "$sources")
fi
[ -n "$mirror" ] || { log "no mirror found; set LAB_MIRROR" >&2; exit 1; }

work=$(mktemp -d /var/tmp/safeq-lab-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT

log "debootstrap $suite from $mirror into $work/rootfs"
t=$(now)
if ! debootstrap --variant=minbase --include=python3,iproute2,nftables \
    "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [ -f "$work/rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$work/rootfs/debootstrap/debootstrap.log" >&2
  log "debootstrap failed" >&2
  exit 1
fi
log "debootstrap took $(elapsed "$t") s"

# Slim the rootfs a little; the lab does not need apt lists or docs.
rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin \
  "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man" "$work/rootfs/usr/share/info"

t=$(now)
tar -C "$work/rootfs" --numeric-owner -c . \
  | "${podman[@]}" import --quiet --change 'CMD ["/bin/sleep", "infinity"]' - "$image" >/dev/null
log "podman import took $(elapsed "$t") s"

t=$(now)
"${podman[@]}" run --rm --network none "${ulimits[@]}" "$image" \
  sh -c 'python3 -c "import sys; assert sys.version_info >= (3, 11)" && nft --version && ip -V' \
  >/dev/null
log "smoke test (python3, nft, ip) took $(elapsed "$t") s"
log "built $image in $(elapsed "$t_total") s"
