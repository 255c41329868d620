#!/usr/bin/env bash
# Build the safeq.hardening execution environment from extensions/ee/execution-environment.yml with
# ansible-builder and podman, without any container registry or Galaxy, then smoke-test the image.
#
# 1. Base image (EE_BASE_LOCAL, default localhost/safeq-ee-base:bookworm), built once and reused:
#      debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates bookworm
#      tar | podman import        (the approach of scripts/lab-image.sh; MIRROR from debian.sources)
# 2. Collection tarballs: safeq.hardening from this checkout (`ansible-galaxy collection build`,
#    build_ignore applies) and its galaxy.yml dependencies (ansible.windows, community.windows,
#    community.general, awx.awx) packed from the venv's site-packages/ansible_collections (the
#    `ansible` PyPI package), because Galaxy is unreachable.
# 3. A work copy of extensions/ee: the definition byte for byte, requirements.yml replaced by one
#    that lists those tarballs (type: file). `ansible-builder create`, the tarballs are put into the
#    build context, then `ansible-builder build` with
#      --build-arg EE_BASE_IMAGE=<local base> --build-arg PYCMD=/usr/bin/python3
#      --build-arg ANSIBLE_GALAXY_CLI_COLLECTION_OPTS=--offline
#    and the podman flags this machine needs (--runtime runc, explicit ulimits). pip and apt inside
#    the build reach PyPI and the Debian mirror; the host's CA bundle (EE_CA_BUNDLE) is mounted
#    read-only over the image's during the build steps, so pip trusts what the host trusts (a
#    TLS-inspecting proxy). The mount is not part of any image layer.
# 4. Smoke test inside the image, with --network none: the runtime Python packages import, no
#    development tool is installed, safeq.hardening and its dependencies are listed, `ansible-inventory` reads the
#    inventory, and `ansible-playbook safeq.hardening.plan -i <inventory> -e safeq_output_dir=/tmp/out`
#    runs. The plan run passes when it succeeds and writes per-host JSON files; a failing plan run is
#    reported (exit code, last lines) and makes the script fail only with EE_SMOKE_STRICT=1, because
#    the inventory check above already proves the collection and the inventory load.
#
# Phase times are printed at the end.
#
# Usage: scripts/build-ee.sh [--force-base] [--no-cache] [--keep-work]
#   --force-base  rebuild the base image even if it exists
#   --no-cache    build the EE without podman's layer cache (a cold build)
#   --keep-work   keep the work directory (build context, logs) and print its path
# Env: EE_TAG (default localhost/safeq-hardening-ee:<galaxy.yml version>), EE_BASE_LOCAL,
#      EE_MIRROR (Debian mirror for debootstrap), EE_INVENTORY (default inventories/example),
#      EE_SMOKE_STRICT=1 (a failing plan run fails the script),
#      EE_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt; empty: no mount)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
base_image=${EE_BASE_LOCAL:-localhost/safeq-ee-base:bookworm}
inventory=${EE_INVENTORY:-$root/inventories/example}
force_base=0 no_cache=0 keep_work=0
for arg in "$@"; do
  case "$arg" in
    --force-base) force_base=1 ;;
    --no-cache) no_cache=1 ;;
    --keep-work) keep_work=1 ;;
    *) echo "usage: $0 [--force-base] [--no-cache] [--keep-work]" >&2; exit 2 ;;
  esac
done

podman=(podman --runtime runc)
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[build-ee] %s\n' "$*"; }
times=()

for tool in podman runc debootstrap tar "$venv/bin/ansible-builder" "$venv/bin/ansible-galaxy"; do
  command -v "$tool" >/dev/null 2>&1 || { log "missing $tool: run scripts/setup.sh first" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { log "debootstrap and podman import need root" >&2; exit 1; }
[ -e "$inventory" ] || { log "no inventory at $inventory" >&2; exit 1; }
inventory=$(cd "$(dirname "$inventory")" && pwd)/$(basename "$inventory")

version=$("$venv/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$root/galaxy.yml")
tag=${EE_TAG:-localhost/safeq-hardening-ee:$version}

work=$(mktemp -d /var/tmp/safeq-ee.XXXXXX)
cleanup() {
  if [ "$keep_work" -eq 1 ]; then log "work directory kept: $work"; else rm -rf --one-file-system "$work"; fi
}
trap cleanup EXIT
t_total=$(now)

# --- 1. base image ------------------------------------------------------------------------------
t=$(now)
old_base=$("${podman[@]}" image inspect --format '{{.Id}}' "$base_image" 2>/dev/null || true)
if [ "$force_base" -eq 0 ] && [ -n "$old_base" ]; then
  log "base image $base_image present, reused"
else
  mirror=${EE_MIRROR:-}
  if [ -z "$mirror" ]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  fi
  [ -n "$mirror" ] || { log "no Debian mirror found; set EE_MIRROR" >&2; exit 1; }
  log "debootstrap bookworm from $mirror"
  if ! timeout 900 debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
      bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    log "debootstrap failed" >&2
    exit 1
  fi
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin \
    "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man" "$work/rootfs/usr/share/info"
  tar -C "$work/rootfs" --numeric-owner -c . | "${podman[@]}" import --quiet - "$base_image" >/dev/null
  rm -rf --one-file-system "$work/rootfs"
  # the image the tag pointed to before --force-base, unless something still uses it
  if [ -n "$old_base" ]; then "${podman[@]}" rmi "$old_base" >/dev/null 2>&1 || true; fi
  log "base image $base_image built"
fi
times+=("base image: $(elapsed "$t") s")

# --- 2. collection tarballs ---------------------------------------------------------------------
t=$(now)
ee="$work/ee"
mkdir -p "$ee/collections"
(cd "$root" && "$venv/bin/ansible-galaxy" collection build --force --output-path "$ee/collections" >/dev/null)
# The `ansible` package installs collections without their tests and CI files, so the FILES.json
# of an installed copy lists files that are not there; the artifact gets a FILES.json of the files
# present (their checksums are verified against the original FILES.json) and a MANIFEST.json with
# its new checksum.
# The dependencies are those of galaxy.yml (ansible-galaxy --offline needs every one of them).
"$venv/bin/python" - "$ee/collections" "$root/galaxy.yml" <<'PY'
import hashlib, io, json, os, sys, tarfile
import ansible_collections
import yaml

out = sys.argv[1]
fqcns = sorted(yaml.safe_load(open(sys.argv[2]))["dependencies"])
for fqcn in fqcns:
    ns, name = fqcn.split(".")
    src = next((os.path.join(p, ns, name) for p in ansible_collections.__path__
                if os.path.isfile(os.path.join(p, ns, name, "MANIFEST.json"))), None)
    if src is None:
        sys.exit(f"{fqcn} is not installed in the venv (run scripts/setup.sh)")
    manifest = json.load(open(os.path.join(src, "MANIFEST.json")))
    files = json.load(open(os.path.join(src, "FILES.json")))
    kept, listed = [], len(files["files"])
    for entry in files["files"]:
        path = os.path.join(src, entry["name"])
        if entry["name"] != "." and not os.path.lexists(path):
            continue
        if entry["ftype"] == "file":
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != entry["chksum_sha256"]:
                    sys.exit(f"{fqcn}: {entry['name']} differs from its FILES.json checksum")
        kept.append(entry)
    files["files"] = kept
    files_json = json.dumps(files, indent=4).encode()
    manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
    manifest_json = json.dumps(manifest, indent=4).encode()
    version = manifest["collection_info"]["version"]
    with tarfile.open(os.path.join(out, f"{ns}-{name}-{version}.tar.gz"), "w:gz") as tar:
        for member, data in (("MANIFEST.json", manifest_json), ("FILES.json", files_json)):
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for entry in kept:
            if entry["name"] != ".":
                tar.add(os.path.join(src, entry["name"]), arcname=entry["name"], recursive=False)
    print(f"[build-ee] packed {fqcn} {version}: {len(kept)} of the {listed} FILES.json entries are installed")
PY
times+=("collection tarballs: $(elapsed "$t") s")

# --- 3. ansible-builder -------------------------------------------------------------------------
t=$(now)
cp "$root/extensions/ee/execution-environment.yml" "$ee/execution-environment.yml"
{
  echo "---"
  echo "# Offline variant written by scripts/build-ee.sh: local tarballs instead of Galaxy."
  echo "collections:"
  for f in "$ee"/collections/*.tar.gz; do
    printf '  - name: /build/collections/%s\n    type: file\n' "$(basename "$f")"
  done
} > "$ee/requirements.yml"
"$venv/bin/ansible-builder" create -f "$ee/execution-environment.yml" -c "$ee/context" >/dev/null
cp -r "$ee/collections" "$ee/context/_build/collections"
build_args=(
  --build-arg "EE_BASE_IMAGE=$base_image"
  --build-arg "PYCMD=/usr/bin/python3"
  --build-arg "ANSIBLE_GALAXY_CLI_COLLECTION_OPTS=--offline"
)
cache=()
podman_args=(--runtime runc "${ulimits[@]}")
# --no-cache: a cold build that also leaves no intermediate layer images behind
if [ "$no_cache" -eq 1 ]; then cache=(--no-cache); podman_args+=(--layers=false); fi
ca_bundle=${EE_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
if [ -n "$ca_bundle" ] && [ -f "$ca_bundle" ]; then
  podman_args+=(--volume "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro")
fi
log "ansible-builder build -t $tag (log: $work/build.log)"
if ! timeout 1800 "$venv/bin/ansible-builder" build -f "$ee/execution-environment.yml" -c "$ee/context" \
    -t "$tag" --container-runtime podman "${build_args[@]}" "${cache[@]}" -v 3 \
    --extra-build-cli-args "${podman_args[*]}" >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  log "ansible-builder build failed (full log: $work/build.log)" >&2
  keep_work=1
  exit 1
fi
times+=("ansible-builder build: $(elapsed "$t") s")
log "built $tag ($("${podman[@]}" image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"

# --- 4. smoke test ------------------------------------------------------------------------------
t=$(now)
run=("${podman[@]}" run --rm --network none "${ulimits[@]}" -v "$inventory:/runner/inventory:ro" "$tag")
timeout 120 "${run[@]}" python3 -c 'import jmespath, winrm, kerberos, requests_credssp, ldap; print("runtime imports ok")'
dev=$(timeout 120 "${run[@]}" python3 -m pip list --format freeze 2>/dev/null |
  grep -iE '^(molecule|molecule-plugins|ansible-lint|pytest|antsibull[a-z-]*|galaxy-importer|ansible-builder)==' || true)
[ -z "$dev" ] || { log "development tools found in the image: $dev" >&2; exit 1; }
log "no development tool installed"
collections=$(timeout 120 "${run[@]}" ansible-galaxy collection list 2>/dev/null)
deps=$("$venv/bin/python" -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["dependencies"]))' "$root/galaxy.yml")
for fqcn in safeq.hardening $deps; do
  grep -q "^$fqcn " <<<"$collections" || { log "collection $fqcn missing in the image" >&2; exit 1; }
done
log "collections present: $(grep -E "^($(tr ' ' '|' <<<"safeq.hardening $deps"))[[:space:]]" <<<"$collections" | awk '{ print $1 " " $2 }' | paste -sd, -)"
hosts=$(timeout 120 "${run[@]}" ansible-inventory -i /runner/inventory --list 2>/dev/null |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["_meta"]["hostvars"]))')
[ "$hosts" -gt 0 ] || { log "ansible-inventory found no host in $inventory" >&2; exit 1; }
log "ansible-inventory read $hosts hosts from $inventory"
set +e
# shellcheck disable=SC2016  # expanded by the shell inside the container
timeout 300 "${run[@]}" sh -c 'ansible-playbook safeq.hardening.plan -i /runner/inventory -e safeq_output_dir=/tmp/out; rc=$?
  echo "plan exit code: $rc"; echo "files written:"; find /tmp/out /runner/output -type f 2>/dev/null | sort; exit $rc' \
  >"$work/plan.log" 2>&1
plan_rc=$?
set -e
times+=("smoke test: $(elapsed "$t") s")
json_files=$(grep -cE '^/(tmp/out|runner/output)/.*\.json$' "$work/plan.log" || true)
if [ "$plan_rc" -eq 0 ]; then
  log "plan in the image: success, $json_files JSON files written ($(grep -E '^/(tmp/out|runner/output)/' "$work/plan.log" | sed 's|/[^/]*$||' | sort -u | paste -sd' ' -))"
else
  tail -n 25 "$work/plan.log" >&2
  log "plan in the image: exit code $plan_rc (log above)" >&2
  if [ "${EE_SMOKE_STRICT:-0}" = 1 ]; then keep_work=1; exit 1; fi
fi

log "times: $(printf '%s; ' "${times[@]}")total $(elapsed "$t_total") s"
log "run it: podman --runtime runc run --rm ${ulimits[*]} -v <inventory>:/runner/inventory:ro $tag ansible-playbook safeq.hardening.plan -i /runner/inventory"
