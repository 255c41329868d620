#!/usr/bin/env bash
# Idempotent setup on a fresh Debian 12 machine: OS packages, a venv from PyPI, and the
# collection linked into a local collections path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# - podman, runc, debootstrap: the lab and execution-environment images (built locally, no registry);
#   ansible-builder (from requirements-dev.txt) drives podman, bindep reads dpkg.
# - gcc, python3-dev, libldap2-dev, libsasl2-dev, libkrb5-dev: build python-ldap and pykerberos
#   (pywinrm[kerberos]); the same compile set bindep.txt names for Debian.
# - chromium (+ fonts-liberation): headless browser for the report tests.
apt_pkgs=(podman runc debootstrap nftables slapd ldap-utils iproute2 rsync shellcheck
  python3-venv python3-dev gcc libldap2-dev libsasl2-dev libkrb5-dev chromium fonts-liberation)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
# Development set: requirements-dev.txt (which includes the runtime requirements.txt). The stamp
# covers both files, so a change to either re-installs.
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
# Make `safeq.hardening` resolvable from this checkout (ansible.cfg points collections_path here).
mkdir -p .collections/ansible_collections/safeq
ln -sfn ../../.. .collections/ansible_collections/safeq/hardening
