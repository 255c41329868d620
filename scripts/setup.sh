#!/usr/bin/env bash
# Idempotent setup on a fresh Debian 12 machine: OS packages, a venv from PyPI, and the
# collection linked into a local collections path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
apt_pkgs=(podman runc debootstrap nftables slapd ldap-utils iproute2 rsync shellcheck libldap2-dev libsasl2-dev gcc)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi
# Make `safeq.hardening` resolvable from this checkout (ansible.cfg points collections_path here).
mkdir -p .collections/ansible_collections/safeq
ln -sfn ../../.. .collections/ansible_collections/safeq/hardening
