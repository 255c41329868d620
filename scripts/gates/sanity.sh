#!/usr/bin/env bash
# Gate: `ansible-test sanity` for safeq.hardening, runnable on a fresh machine after scripts/setup.sh.
#
# ansible-test insists on running from <root>/ansible_collections/<namespace>/<name> and resolves
# symlinks in the working directory, so the repository's files (tracked + untracked-not-ignored,
# exactly what `git ls-files -co --exclude-standard` lists) are copied into a temporary tree.
# The dependencies from galaxy.yml are linked next to it from the `ansible` PyPI package, because
# ansible-test only looks for collections under that same ansible_collections root.
#
# ansible-test bootstraps pip in each sanity venv with a get-pip script that it downloads from the
# internet, which is unreachable here. We install an offline stand-in at the cache path
# ansible-test checks first (~/.ansible/test/cache/get_pip_<pip version>.py): it runs ensurepip
# and then `pip install` with the same arguments (packages come from PyPI as usual).
#
# Usage: scripts/gates/sanity.sh [extra ansible-test sanity args, e.g. --test pylint]
# Env:   SANITY_KEEP=1 keeps the temp tree (its path is printed); SANITY_PYTHON=X.Y (default: the
#        version of .venv's python, 3.11 on our machines).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv"
py="$venv/bin/python"
pyver=${SANITY_PYTHON:-$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.11)}
start=$(date +%s)

if [ ! -x "$py" ] || [ ! -x "$venv/bin/ansible-test" ]; then
  echo "sanity: $venv is missing or has no ansible-test; run scripts/setup.sh first" >&2
  exit 2
fi

# --- 0. tools that sanity tests skip (with only a warning) when missing ------------------------
if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "sanity: installing shellcheck (Debian package) for the shellcheck sanity test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends shellcheck >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends shellcheck >/dev/null; }
  fi
fi

# --- 1. offline get-pip stand-in -------------------------------------------------------------
pip_version=$("$py" - "$pyver" <<'EOF'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))['pip'])
EOF
)
cache_dir="$HOME/.ansible/test/cache"
get_pip="$cache_dir/get_pip_${pip_version//./_}.py"
marker='# safeq.hardening offline get-pip stand-in'
mkdir -p "$cache_dir"
if [ -f "$get_pip" ] && ! grep -qF "$marker" "$get_pip"; then
  echo "sanity: keeping existing (real) bootstrap script $get_pip"
else
  cat > "$get_pip.tmp" <<EOF
$marker (written by scripts/gates/sanity.sh)
"""Offline replacement for get-pip.py $pip_version as used by ansible-test.

ansible-test runs this file as __main__ inside a fresh venv created --without-pip, with pip
arguments such as: --disable-pip-version-check pip==$pip_version --no-setuptools --no-wheel.
It installs the pip bundled with Python (ensurepip), then runs \`pip install\` with the same
arguments minus the get-pip-only options. If the index cannot be reached, the bundled pip is kept.
"""
import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel', '--no-pip')


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'],
                          stdout=subprocess.DEVNULL)
    rc = subprocess.call([sys.executable, '-m', 'pip', 'install'] + args)
    if rc != 0:
        packages = [arg for arg in args if not arg.startswith('-')]
        if all(p.split('==')[0].lower() == 'pip' for p in packages):
            sys.stderr.write('get-pip stand-in: could not upgrade pip, keeping the bundled pip\n')
            return 0
        return rc
    return 0


if __name__ == '__main__':
    sys.exit(main())
EOF
  mv "$get_pip.tmp" "$get_pip"
fi

# --- 2. copy the collection into an ansible_collections tree ---------------------------------
read -r ns name < <("$py" - "$root/galaxy.yml" <<'EOF'
import sys, yaml
with open(sys.argv[1]) as f:
    g = yaml.safe_load(f)
print(g['namespace'], g['name'])
EOF
)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/safeq-sanity.XXXXXX")
if [ -z "${SANITY_KEEP:-}" ]; then
  trap 'rm -rf "$tmp"' EXIT
else
  echo "sanity: keeping temp tree $tmp"
fi
dest="$tmp/ansible_collections/$ns/$name"
mkdir -p "$dest"
# ls-files lists deleted-but-tracked files too; copy only what exists.
(cd "$root" && git ls-files -co --exclude-standard -z) |
  (cd "$root" && while IFS= read -r -d '' f; do
     case "$f" in .venv|.venv/*|.collections|.collections/*) continue ;; esac; if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
   done) |
  (cd "$root" && xargs -0 -r cp --parents -P -t "$dest")

# Dependencies (from galaxy.yml) resolvable beside the collection.
site=$("$py" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))' 2>/dev/null || true)
"$py" - "$root/galaxy.yml" <<'EOF' | while read -r dep; do
import sys, yaml
with open(sys.argv[1]) as f:
    g = yaml.safe_load(f)
for dep in (g.get('dependencies') or {}):
    print(dep)
EOF
  dns=${dep%%.*}; dname=${dep#*.}
  src="$site/ansible_collections/$dns/$dname"
  if [ -n "$site" ] && [ -d "$src" ]; then
    mkdir -p "$tmp/ansible_collections/$dns"
    ln -sfn "$src" "$tmp/ansible_collections/$dns/$dname"
  else
    echo "sanity: warning: dependency $dep not found under $site/ansible_collections" >&2
  fi
done

# ansible-test lists a collection's files with git when it is inside a work tree; make the copy
# its own repository so the result does not depend on where TMPDIR is.
(cd "$dest" && git init -q && git add -A &&
  git -c user.name=sanity -c user.email=sanity@localhost commit -q -m sanity --no-gpg-sign)

# --- 3. run -----------------------------------------------------------------------------------
export PATH="$venv/bin:$PATH"
cd "$dest"
log="$tmp/sanity.log"
set +e
ansible-test sanity --local --python "$pyver" --color no "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# ansible-test only warns and skips a test whose program is missing (shellcheck, pwsh): a skipped
# test is not a passed gate. (pwsh is not installable here, so .ps1 files fail this gate.)
if grep -q 'WARNING: Required program ".*" not found' "$log"; then
  echo "sanity: FAILED: a sanity test was skipped because a required program is missing:" >&2
  grep -o 'Required program "[^"]*" not found' "$log" | sort -u >&2
  [ "$rc" -ne 0 ] || rc=3
fi
echo "sanity: ansible-test exit code $rc, took $(( $(date +%s) - start ))s"
exit "$rc"
