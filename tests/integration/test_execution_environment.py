# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Execution environment: what ansible-builder takes from the collection, and a real EE build.

- ``ansible-builder introspect --sanitize`` on a collections path holding only safeq.hardening
  (installed from its built tarball, so the shipped files are what is checked) gives exactly the
  runtime Python requirements and the bindep system packages. ansible-builder silently drops a few
  test tools (molecule, ansible-lint, pytest, galaxy-importer), so requirements.txt itself is also
  checked to name nothing but the runtime packages.
- bindep.txt resolves to the intended packages for Debian 12, Ubuntu 24.04 and RHEL 9 (bindep's own
  evaluation), and nothing of its compile set is missing on this machine (scripts/setup.sh).
- ``ansible-builder create`` on extensions/ee gives a build context with ansible-core 2.19,
  ansible-runner 2.4 and the collections of extensions/ee/requirements.yml, and nothing else.
- A real build: scripts/build-ee.sh builds extensions/ee with ansible-builder and podman on a local
  debootstrap Debian bookworm base (reused when present), then this test runs the image: the
  runtime packages import, no development tool is installed, the collections are there, and
  ``ansible-playbook safeq.hardening.plan`` writes a policy per host of the docs/install.md inventory.
  Measured on the 2-core machine (while other jobs ran): base image 85 s (only when it is missing),
  ansible-builder build 80 s without layer cache, checks 15 s; the whole file takes 97 s with the
  base image present and 191 s without. The build downloads from PyPI and the Debian mirror; the
  image runs with --network none. The image is removed at the end; the base image is kept.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUNTIME_PYTHON = {"jmespath": set(), "pywinrm": {"kerberos", "credssp"}, "python-ldap": set()}
DEV_TOOLS = {"molecule", "molecule-plugins", "ansible-lint", "pytest", "antsibull-changelog", "antsibull-docs",
             "galaxy-importer", "ansible-builder", "ansible", "ansible-core", "ansible-runner", "tox", "flake8"}
DEBIAN_RUNTIME = {"libsasl2-2", "libkrb5-3", "libgssapi-krb5-2"}
DEBIAN_COMPILE = {"gcc", "python3-dev", "libldap-dev", "libsasl2-dev", "libkrb5-dev"}
RPM_RUNTIME = {"openldap", "cyrus-sasl-lib", "krb5-libs"}
RPM_COMPILE = {"gcc", "python3-devel", "openldap-devel", "cyrus-sasl-devel", "krb5-devel"}
PODMAN = ["podman", "--runtime", "runc"]
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def _run(cmd: list[str], *, timeout: int = 300, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit code {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"


def _env(tmp: Path | None = None) -> dict[str, str]:
    """The caller's environment without ANSIBLE_*/SAFEQ_*; with tmp, an empty ansible.cfg there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SAFEQ_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if tmp is not None:
        (tmp / "ansible.cfg").write_text("", encoding="utf-8")
        env["ANSIBLE_CONFIG"] = str(tmp / "ansible.cfg")
    return env


def _strip(line: str) -> str:
    return re.sub(r"(?:^|\s+)#.*$", "", line).strip()


def _galaxy_dependencies() -> dict[str, str]:
    return yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["dependencies"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collections path that holds only safeq.hardening, installed from its built tarball."""
    tmp = tmp_path_factory.mktemp("ee-introspect")
    env = _env(tmp)  # not the checkout's ansible.cfg, whose collections path already has safeq.hardening
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(tmp / "dist")],
                env=env, cwd=tmp)
    assert proc.returncode == 0, _output(proc)
    tarball = next((tmp / "dist").glob("safeq-hardening-*.tar.gz"))
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "--no-deps",
                 "-p", str(tmp / "collections")], env=env, cwd=tmp)
    assert proc.returncode == 0, _output(proc)
    assert sorted(p.name for p in (tmp / "collections" / "ansible_collections").iterdir()) == ["safeq"]
    return tmp / "collections"


def test_introspect_gives_exactly_the_runtime_requirements(installed: Path) -> None:
    proc = _run([str(BIN / "ansible-builder"), "introspect", "--sanitize", str(installed)], env=_env())
    assert proc.returncode == 0, _output(proc)
    data = yaml.safe_load(proc.stdout[proc.stdout.index("---"):])
    assert set(data) == {"python", "system"}

    python = {}
    for line in data["python"]:
        assert line.endswith("# from collection safeq.hardening"), line
        req = Requirement(_strip(line))
        python[req.name] = set(req.extras)
        assert req.specifier and all(s.operator == ">=" for s in req.specifier), f"{line}: minimum versions only"
    assert python == RUNTIME_PYTHON

    for line in data["system"]:
        assert line.endswith("# from collection safeq.hardening"), line
    system_lines = [_strip(line) for line in data["system"]]
    bindep_lines = [_strip(x) for x in (ROOT / "bindep.txt").read_text(encoding="utf-8").splitlines() if _strip(x)]
    assert system_lines == bindep_lines
    system = {line.split()[0] for line in system_lines}
    assert system == DEBIAN_RUNTIME | DEBIAN_COMPILE | RPM_RUNTIME | RPM_COMPILE | {"libldap-2.5-0", "libldap2"}
    assert not set(python) & DEV_TOOLS and not set(system) & DEV_TOOLS


def test_requirements_files_split_runtime_from_development(installed: Path) -> None:
    """introspect drops molecule, ansible-lint, pytest...: check the shipped file itself."""
    shipped = installed / "ansible_collections" / "safeq" / "hardening"
    runtime = [Requirement(_strip(x)) for x in (shipped / "requirements.txt").read_text(encoding="utf-8").splitlines()
               if _strip(x)]
    assert {r.name: set(r.extras) for r in runtime} == RUNTIME_PYTHON
    assert not (shipped / "requirements-dev.txt").exists()
    assert yaml.safe_load((shipped / "meta" / "execution-environment.yml").read_text(encoding="utf-8")) == {
        "version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}

    dev_lines = [_strip(x) for x in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
                 if _strip(x)]
    assert dev_lines[0] == "-r requirements.txt"
    dev = {Requirement(x).name: Requirement(x) for x in dev_lines[1:]}
    for name in ("molecule", "ansible-lint", "pytest", "antsibull-changelog", "galaxy-importer"):
        assert name in dev, name
    assert dev["ansible-runner"].specifier.contains("2.4.3") and not dev["ansible-runner"].specifier.contains("2.5.0")
    assert dev["ansible-builder"].specifier.contains("3.2.0") and not dev["ansible-builder"].specifier.contains("3.3.0")


@pytest.mark.parametrize(("profiles", "expected"), [
    (["default", "platform:dpkg", "platform:debian", "platform:debian-12"], DEBIAN_RUNTIME | {"libldap-2.5-0"}),
    (["compile", "platform:dpkg", "platform:debian", "platform:debian-12"],
     DEBIAN_RUNTIME | DEBIAN_COMPILE | {"libldap-2.5-0"}),
    (["default", "platform:dpkg", "platform:ubuntu", "platform:ubuntu-24.04"], DEBIAN_RUNTIME | {"libldap2"}),
    (["default", "platform:rpm", "platform:redhat", "platform:rhel", "platform:rhel-9"], RPM_RUNTIME),
    (["compile", "platform:rpm", "platform:redhat", "platform:rhel", "platform:rhel-9"], RPM_RUNTIME | RPM_COMPILE),
], ids=["debian-12", "debian-12-compile", "ubuntu-24.04", "rhel-9", "rhel-9-compile"])
def test_bindep_resolves_per_platform(profiles: list[str], expected: set[str]) -> None:
    rules = Depends((ROOT / "bindep.txt").read_text(encoding="utf-8")).active_rules(profiles)
    assert {rule[0] for rule in rules} == expected


def test_bindep_compile_set_is_installed_here() -> None:
    """scripts/setup.sh installs what bindep.txt needs on this Debian 12 machine."""
    proc = _run([str(BIN / "bindep"), "-f", str(ROOT / "bindep.txt"), "-b", "compile"], env=_env())
    assert proc.returncode == 0 and proc.stdout.strip() == "", _output(proc)


def test_create_gives_a_runtime_only_build_context(tmp_path: Path) -> None:
    context = tmp_path / "context"
    proc = _run([str(BIN / "ansible-builder"), "create", "-f", str(ROOT / "extensions/ee/execution-environment.yml"),
                 "-c", str(context)], env=_env())
    assert proc.returncode == 0, _output(proc)
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    args = dict(re.findall(r'^ARG ([A-Z_]+)="(.*)"$', containerfile, flags=re.MULTILINE))
    assert args["EE_BASE_IMAGE"] == "docker.io/library/python:3.11-slim-bookworm"
    assert args["PKGMGR"] == "/usr/bin/apt-get"
    pip_refs = [Requirement(r) for r in args["ANSIBLE_INSTALL_REFS"].split()]
    assert [r.name for r in pip_refs] == ["ansible-core", "ansible-runner"]
    assert pip_refs[0].specifier.contains("2.19.14") and not pip_refs[0].specifier.contains("2.20.0")
    assert pip_refs[1].specifier.contains("2.4.3")
    # Every pip install in the Containerfile is one of ansible-builder's own steps.
    pip_steps = sorted(set(re.findall(r"pip install [^\n]*", containerfile)))
    assert pip_steps == ["pip install --no-cache-dir $ANSIBLE_INSTALL_REFS", "pip install --no-cache-dir 'dumb-init==1.2.5'",
                         "pip install --no-cache-dir bindep pyyaml packaging"]

    user_files = sorted(str(p.relative_to(context)) for p in context.rglob("*")
                        if p.is_file() and "scripts" not in p.relative_to(context).parts)
    assert user_files == ["Containerfile", "_build/requirements.yml"]
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in galaxy["collections"]]
    assert names == ["safeq.hardening", *_galaxy_dependencies()]
    for text in (containerfile, (context / "_build" / "requirements.yml").read_text(encoding="utf-8")):
        for tool in ("molecule", "ansible-lint", "pytest", "antsibull", "galaxy-importer", "requirements-dev"):
            assert tool not in text, tool


@pytest.fixture(scope="module")
def ee_image(tmp_path_factory: pytest.TempPathFactory):
    """Build extensions/ee for real with scripts/build-ee.sh (no registry, no Galaxy)."""
    tmp = tmp_path_factory.mktemp("ee-build")
    inventory = tmp / "inventory"
    inventory.mkdir()
    text = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    block = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL) if b.startswith("# inventory/hosts.yml\n")]
    assert len(block) == 1
    (inventory / "hosts.yml").write_text(block[0], encoding="utf-8")
    tag = f"localhost/safeq-hardening-ee:test-{uuid.uuid4().hex[:8]}"
    env = _env() | {"EE_TAG": tag, "EE_INVENTORY": str(inventory), "EE_SMOKE_STRICT": "1"}
    try:
        proc = _run(["bash", str(ROOT / "scripts" / "build-ee.sh"), "--no-cache"], env=env, timeout=1500)
        assert proc.returncode == 0, _output(proc)
        print(proc.stdout)
        yield tag, inventory, tmp
    finally:
        _run([*PODMAN, "rmi", "--force", tag], timeout=120)


def _in_image(tag: str, *cmd: str, volumes: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    mounts = [arg for v in volumes for arg in ("-v", v)]
    return _run([*PODMAN, "run", "--rm", "--network", "none", *ULIMITS, *mounts, tag, *cmd], timeout=300)


def test_built_image_has_runtime_needs_only(ee_image: tuple[str, Path, Path]) -> None:
    tag = ee_image[0]
    proc = _in_image(tag, "python3", "-c", "import jmespath, winrm, kerberos, requests_credssp, ldap; print(ldap.__version__)")
    assert proc.returncode == 0, _output(proc)
    proc = _in_image(tag, "python3", "-m", "pip", "list", "--format", "json")
    assert proc.returncode == 0, _output(proc)
    installed = {p["name"].lower(): p["version"] for p in json.loads(proc.stdout)}
    for name in ("jmespath", "pywinrm", "python-ldap", "pykerberos", "requests-credssp", "ansible-runner"):
        assert name in installed, name
    assert installed["ansible-core"].startswith("2.19.")
    assert installed["ansible-runner"].startswith("2.4.")
    dev = {"molecule", "molecule-plugins", "ansible-lint", "pytest", "antsibull-changelog", "galaxy-importer",
           "ansible-builder", "ansible"}
    assert not dev & set(installed)

    proc = _in_image(tag, "ansible-galaxy", "collection", "list", "--format", "json")
    assert proc.returncode == 0, _output(proc)
    found = {name for per_path in json.loads(proc.stdout).values() for name in per_path}
    assert {"safeq.hardening", *_galaxy_dependencies()} <= found


def test_plan_runs_in_the_image(ee_image: tuple[str, Path, Path]) -> None:
    tag, inventory, tmp = ee_image
    out = tmp / "out"
    out.mkdir()
    out.chmod(0o777)  # the image runs as uid 1000
    proc = _in_image(tag, "ansible-playbook", "safeq.hardening.plan", "-i", "/runner/inventory/hosts.yml",
                     "-e", "safeq_output_dir=/runner/out",
                     volumes=(f"{inventory}:/runner/inventory:ro", f"{out}:/runner/out"))
    assert proc.returncode == 0, _output(proc)
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text(encoding="utf-8"))
    expected = {h: v["ansible_host"] for g in hosts["all"]["children"]["windows_servers"]["children"].values()
                for h, v in g["hosts"].items()}
    for host, address in expected.items():
        found = sorted((out / "plan").rglob(f"{host}.json"))
        assert len(found) == 1, f"{host}: {sorted((out / 'plan').rglob('*'))}"
        policy = json.loads(found[0].read_text(encoding="utf-8"))
        assert (policy["host"], policy["address"]) == (host, address)
