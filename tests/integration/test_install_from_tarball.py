# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install a stranger follows (docs/install.md), done for real, outside the repository.

The collection tarball is built with ``ansible-galaxy collection build``; its content is checked
(LICENSE and the runtime files in, the development tree out, dependencies that match what the
shipped roles and playbooks use). It is then installed with ``--no-deps`` into an empty collections
path in a temporary directory (Galaxy is unreachable: the dependencies come from the venv's
``ansible`` package, after it on ANSIBLE_COLLECTIONS_PATH), the inventory is written exactly as
docs/install.md shows it, and ``ansible-playbook safeq.hardening.plan`` runs from a temporary
working directory with an empty ansible.cfg and no ANSIBLE_* variable of the caller.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
# What galaxy.yml declares; test_dependencies_are_the_collections_the_shipped_content_uses proves
# it is exactly what the shipped roles and playbooks use.
DECLARED_DEPENDENCIES = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["dependencies"]
# Paths of the development tree that must never be in the tarball (prefixes and exact names).
DEV_PREFIXES = (
    "tests/", "scripts/", ".venv/", ".collections/", ".ci/", ".github/", ".git/", ".cache/",
    ".ansible/", ".pytest_cache/", "build/", "output/", "extensions/molecule/", "changelogs/fragments/",
)
DEV_NAMES = {
    "tests", "scripts", ".venv", ".collections", ".ci", ".github", ".git", ".pytest_cache",
    "requirements-dev.txt", "ansible.cfg", ".ansible-lint", ".gitignore", "build", "output",
    "extensions/molecule", "changelogs/fragments",
}
FQCN_KEY = re.compile(r"^([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+$")
FQCN_FILTER = re.compile(r"\|\s*([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+")


def _run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
         timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit code {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"


def _clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without ANSIBLE_* and SAFEQ_* variables, plus an empty config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SAFEQ_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_LOCAL_TEMP"] = str(tmp / "ansible-tmp")
    env.update(extra)
    return env


def _docs_inventory() -> str:
    """The YAML block of docs/install.md that starts with ``# inventory/hosts.yml``."""
    text = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    found = [b for b in blocks if b.startswith("# inventory/hosts.yml\n")]
    assert len(found) == 1, "docs/install.md must show exactly one '# inventory/hosts.yml' YAML block"
    return found[0]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(out)],
                env=_clean_env(out), timeout=300)
    assert proc.returncode == 0, _output(proc)
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    path = out / f"safeq-hardening-{version}.tar.gz"
    assert path.is_file(), f"{path} not built: {proc.stdout}"
    return path


@pytest.fixture(scope="module")
def members(tarball: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


def _read(tarball: Path, name: str) -> str:
    with tarfile.open(tarball) as tar:
        member = tar.extractfile(name)
        assert member is not None, name
        return member.read().decode("utf-8")


def test_tarball_ships_license_and_runtime_files(tarball: Path, members: dict[str, tarfile.TarInfo]) -> None:
    for name in ("LICENSE", "README.md", "MANIFEST.json", "FILES.json", "requirements.txt", "bindep.txt",
                 "meta/runtime.yml", "meta/execution-environment.yml", "extensions/ee/execution-environment.yml",
                 "extensions/ee/requirements.yml", "docs/install.md", "playbooks/plan.yml"):
        assert name in members, f"{name} missing from {tarball.name}"
    license_text = _read(tarball, "LICENSE")
    assert "GNU GENERAL PUBLIC LICENSE" in license_text and "Version 3, 29 June 2007" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text, "LICENSE is not the full GPL-3.0 text"
    changelog = _read(tarball, "CHANGELOG.rst")  # generated by antsibull-changelog
    assert "safeq.hardening Release Notes" in changelog and "v0.1.0" in changelog
    assert "changelogs/changelog.yaml" in members
    manifest = json.loads(_read(tarball, "MANIFEST.json"))["collection_info"]
    assert manifest["license"] == ["GPL-3.0-or-later"]
    assert manifest["dependencies"] == DECLARED_DEPENDENCIES
    for fqcn in ("ansible.windows", "community.windows", "community.general"):
        assert fqcn in manifest["dependencies"], fqcn
    assert "ansible.posix" not in manifest["dependencies"], "ansible.posix is used only by the Molecule lab"


def test_tarball_has_no_development_files(members: dict[str, tarfile.TarInfo]) -> None:
    leaked = sorted(n for n in members if n in DEV_NAMES or n.startswith(DEV_PREFIXES)
                    or "__pycache__" in n.split("/") or n.endswith((".pyc", ".tar.gz")))
    assert leaked == []


def test_dependencies_are_the_collections_the_shipped_content_uses(tarball: Path,
                                                                   members: dict[str, tarfile.TarInfo]) -> None:
    """galaxy.yml dependencies == collections named by tasks, roles and filters in roles/ and playbooks/."""
    used: dict[str, set[str]] = {}

    role_loaders = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}

    def record(value: object, source: str) -> None:
        if isinstance(value, str) and (m := FQCN_KEY.match(value)):
            used.setdefault(f"{m[1]}.{m[2]}", set()).add(source)

    def walk(node: object, source: str, parent: str = "") -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                record(key, source)  # a task's module or action plugin
                if key in ("import_playbook", "ansible.builtin.import_playbook", "role") or (
                        key == "name" and parent in role_loaders):
                    record(value, source)
                if key == "roles" and isinstance(value, list):
                    for item in value:
                        record(item, source)
                walk(value, source, str(key))
        elif isinstance(node, list):
            for item in node:
                walk(item, source, parent)
        elif isinstance(node, str):
            for m in FQCN_FILTER.finditer(node):
                used.setdefault(f"{m[1]}.{m[2]}", set()).add(source)

    yaml_files = [n for n, m in members.items() if m.isfile() and n.startswith(("roles/", "playbooks/"))
                  and n.endswith((".yml", ".yaml")) and "/meta/" not in n]
    assert yaml_files
    for name in yaml_files:
        walk(yaml.safe_load(_read(tarball, name)), name)
    external = {c: sorted(s) for c, s in used.items() if c not in ("ansible.builtin", "safeq.hardening")}
    assert set(external) == set(DECLARED_DEPENDENCIES), external


def test_install_from_tarball_and_plan_outside_the_repository(tarball: Path,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("stranger")
    assert not tmp.resolve().is_relative_to(ROOT), "the install must happen outside the repository"
    assert (SITE_PACKAGES / "ansible_collections" / "community" / "general" / "MANIFEST.json").is_file(), (
        "the venv has no `ansible` package collections; run scripts/setup.sh")
    collections = tmp / "collections"
    work = tmp / "work"
    (work / "inventory").mkdir(parents=True)
    (work / "ansible.cfg").write_text("", encoding="utf-8")
    env = _clean_env(tmp, ANSIBLE_CONFIG=str(work / "ansible.cfg"),
                     ANSIBLE_COLLECTIONS_PATH=f"{collections}{os.pathsep}{SITE_PACKAGES}")

    proc = _run([str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "--no-deps",
                 "-p", str(collections)], env=env, cwd=work)
    assert proc.returncode == 0, _output(proc)
    installed = collections / "ansible_collections" / "safeq" / "hardening"
    for name in ("LICENSE", "requirements.txt", "bindep.txt", "MANIFEST.json", "playbooks/plan.yml"):
        assert (installed / name).is_file(), name
    assert not (installed / "tests").exists() and not (installed / "requirements-dev.txt").exists()

    # safeq.hardening resolves to the installed copy only (not the checkout's .collections link).
    proc = _run([str(BIN / "ansible-galaxy"), "collection", "list", "safeq.hardening", "--format", "json"],
                env=env, cwd=work)
    assert proc.returncode == 0, _output(proc)
    listed = {path for path, found in json.loads(proc.stdout).items() if "safeq.hardening" in found}
    assert listed == {str(collections / "ansible_collections")}

    inventory_text = _docs_inventory()
    (work / "inventory" / "hosts.yml").write_text(inventory_text, encoding="utf-8")
    inventory = yaml.safe_load(inventory_text)
    expected: dict[str, str] = {}
    for group in inventory["all"]["children"]["windows_servers"]["children"].values():
        for host, hvars in group["hosts"].items():
            expected[host] = hvars["ansible_host"]
    assert expected, "the documented inventory has no host"

    out = tmp / "out"
    proc = _run([str(BIN / "ansible-playbook"), "safeq.hardening.plan", "-i", "inventory/hosts.yml",
                 "-e", f"safeq_output_dir={out}"], env=env, cwd=work, timeout=600)
    assert proc.returncode == 0, _output(proc)

    plan_dir = out / "plan"
    for host, address in expected.items():
        found = sorted(plan_dir.rglob(f"{host}.json"))
        assert len(found) == 1, f"{host}: per-host JSON files under {plan_dir}: {found}; all: {sorted(plan_dir.rglob('*'))}"
        policy = json.loads(found[0].read_text(encoding="utf-8"))
        assert policy["host"] == host
        assert policy["address"] == address
        assert policy["platform"] == "windows"
    assert not (work / "output").exists(), "plan wrote to ./output instead of safeq_output_dir"
