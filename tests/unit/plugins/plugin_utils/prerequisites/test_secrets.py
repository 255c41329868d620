# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""secrets.py with Ansible's real inventory, variable manager and hostvars: a clear-text password Ansible
cannot template is found without its value ever reaching the result."""

from __future__ import annotations

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret, VaultSecretsContext
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.safeq.hardening.plugins.filter.prerequisite_run_report import prerequisite_run_report
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.secrets import unusable

VAULT_PASSWORD = b"test-vault-password"
SECRETS = {
    "broken": "Zk4{{brokenTemplate",
    "undefined": "Zk4{{ no_such_variable }}",
    "unsafe": "Zk4{{unsafeText",
    "vaulted": "Zk4{{vaultedText",
}


def _vaulted(text):
    from ansible.parsing.vault import VaultLib

    vault = VaultLib([("default", VaultSecret(VAULT_PASSWORD))])
    body = vault.encrypt(text).decode()
    return "!vault |\n" + "".join("        %s\n" % line for line in body.splitlines())


@pytest.fixture(scope="module")
def hostvars(tmp_path_factory):
    path = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    path.write_text(
        "all:\n"
        "  vars:\n"
        "    vault_ldap_password: from-the-vault-variable\n"
        "  hosts:\n"
        "    broken:\n"
        "      prerequisites_ldap_bind_password: \"%(broken)s\"\n"
        "    undefined:\n"
        "      prerequisites_ldap_bind_password: \"%(undefined)s\"\n"
        "    unsafe:\n"
        "      prerequisites_ldap_bind_password: !unsafe \"%(unsafe)s\"\n"
        "    vaulted:\n"
        "      prerequisites_ldap_bind_password: %(vaulted)s"
        "    indirect:\n"
        "      prerequisites_ldap_bind_password: \"{{ vault_ldap_password }}\"\n"
        "    plain:\n"
        "      prerequisites_ldap_bind_password: plain-Secret-1\n"
        "    unset: {}\n" % dict(SECRETS, vaulted=_vaulted(SECRETS["vaulted"])), encoding="utf-8")
    secrets = [("default", VaultSecret(VAULT_PASSWORD))]
    loader = DataLoader()
    loader.set_vault_secrets(secrets)
    inventory = InventoryManager(loader=loader, sources=[str(path)])
    variables = VariableManager(loader=loader, inventory=inventory)
    with pytest.MonkeyPatch.context() as patch:  # what ansible-playbook initialises once per run
        patch.setattr(VaultSecretsContext, "_current", VaultSecretsContext(secrets))
        yield HostVars(inventory=inventory, variable_manager=variables, loader=loader)


def test_only_values_ansible_cannot_template_are_reported(hostvars):
    hosts = ["broken", "undefined", "unsafe", "vaulted", "indirect", "plain", "unset"]
    problems = unusable(hostvars, hosts)
    assert [(p["host"], p["variable"]) for p in problems] == [
        ("broken", "prerequisites_ldap_bind_password"), ("undefined", "prerequisites_ldap_bind_password")]
    for problem in problems:
        assert "hostvars[%s].prerequisites_ldap_bind_password cannot be used as written" % problem["host"] \
            in problem["message"]
        assert "ansible-vault encrypt_string" in problem["message"] and "!unsafe" in problem["message"]
    text = repr(problems)
    for secret in SECRETS.values():
        assert secret not in text and secret.split("{{")[1].strip(" }") not in text


def test_usable_values_template_as_ansible_uses_them(hostvars):
    assert hostvars["indirect"]["prerequisites_ldap_bind_password"] == "from-the-vault-variable"
    assert hostvars["unsafe"]["prerequisites_ldap_bind_password"] == SECRETS["unsafe"]
    assert str(hostvars["vaulted"]["prerequisites_ldap_bind_password"]) == SECRETS["vaulted"]


def test_through_the_filter(hostvars):
    problems = prerequisite_run_report(hostvars, hosts=["broken", "plain"], output="unusable_secrets")
    assert [p["host"] for p in problems] == ["broken"]
    assert prerequisite_run_report(hostvars, hosts=["plain"], output="unusable_secrets",
                                   secrets=["other_variable"]) == []
