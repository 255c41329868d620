# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LDAP checks (checks_ldap.py) from community.general.ldap_search results; the real directory is in tests/ldap."""

from __future__ import annotations

from prerequisites_samples import SKIPPED, one, run, settings, windows

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import checks_ldap as L

LDAP = {"server": "10.10.0.5", "port": 636, "uri": "ldaps://10.10.0.5:636",
        "bind_dn": "CN=svc-safeq,OU=Service,DC=corp,DC=example",
        "domains": ["corp.example"], "user_containers": ["OU=Staff,DC=corp,DC=example"],
        "user_filter": "(&(objectClass=person)(!(objectClass=computer)))",
        "attributes": {"login": "sAMAccountName", "given_name": "givenName", "surname": "sn",
                       "department": "department", "card_number": "extensionAttribute1",
                       "unique_id": "objectGUID", "email": "mail"},
        "replication": {"full": "", "differential": ""}}
ROOTDSE = {"changed": False, "results": [{"dn": "", "namingContexts": [
    "DC=corp,DC=example", "CN=Configuration,DC=corp,DC=example", "DC=DomainDnsZones,DC=corp,DC=example"],
    "defaultNamingContext": "DC=corp,DC=example"}]}


def _user(name, **attrs):
    entry = {"dn": "CN=%s,OU=Staff,DC=corp,DC=example" % name, "sAMAccountName": name.lower(), "givenName": name,
             "sn": "Tester", "department": "IT", "extensionAttribute1": "1234", "objectGUID": "qk3Yx1ZkXUuvF0bqWnq3Eg==",
             "mail": "%s@corp.example" % name.lower()}
    entry.update(attrs)
    return {k: v for k, v in entry.items() if v is not None}


def _users(*entries, container="OU=Staff,DC=corp,DC=example"):
    return {"changed": False, "results": [{"item": container, "changed": False, "results": list(entries),
                                           "ansible_loop_var": "item"}]}


def gathered(**over):
    g = windows(ldap_reach={"changed": False, "elapsed": 0}, ldap_rootdse=ROOTDSE,
                ldap_users=_users(_user("Anna"), _user("Ben")))
    g.update(over)
    return g


def test_ldap_not_configured_all_manual():
    res = run(windows(), settings())
    for check_id in L.LDAP_IDS:
        assert res[check_id]["status"] == "manual", check_id
        assert res[check_id]["answered_by"] and res[check_id]["question"]
    assert res["PRE-LDAP-BIND"]["answered_by"] == "customer AD/LDAP administrator"


def test_ldap_only_on_cml():
    res = run(windows(), settings("linux", host="ors-lx", ldap=LDAP))
    assert res["PRE-LDAP-BIND"]["status"] == "not_applicable" and "cml" in res["PRE-LDAP-BIND"]["evidence"]


def test_ldap_all_good():
    res = run(gathered(), settings(ldap=dict(LDAP, replication={"full": "daily", "differential": "hourly"})))
    for check_id in L.LDAP_IDS:
        assert res[check_id]["status"] == "pass", res[check_id]


def test_ldap_wrong_password():
    failed = {"failed": True, "msg": "Cannot bind to the server.",
              "details": "{'msgtype': 97, 'msgid': 1, 'result': 49, 'desc': 'Invalid credentials', 'ctrls': [], "
                         "'info': '80090308: LdapErr: DSID-0C090439, comment: AcceptSecurityContext error, data 52e, "
                         "v4563'}"}
    res = run(gathered(ldap_rootdse=failed, ldap_users=dict(SKIPPED)), settings(ldap=LDAP))
    assert res["PRE-LDAP-BIND"]["status"] == "fail"
    assert "Invalid credentials (LDAP result 49)" in res["PRE-LDAP-BIND"]["evidence"]
    assert "data 52e" in res["PRE-LDAP-BIND"]["evidence"]
    assert res["PRE-LDAP-ATTR-CARD"]["status"] == "manual" and res["PRE-LDAP-REACH"]["status"] == "pass"
    assert "bind did not succeed" in res["PRE-LDAP-CONTAINERS"]["evidence"]


def test_ldap_error_text_double_quoted_desc():
    reg = {"failed": True, "msg": "Cannot bind to the server.",
           "details": "{'result': -1, 'desc': \"Can't contact LDAP server\", 'errno': 107, 'ctrls': [], "
                      "'info': 'Transport endpoint is not connected'}"}
    assert L.ldap_error_text(reg) == ("Cannot bind to the server: Can't contact LDAP server (LDAP result -1): "
                                      "Transport endpoint is not connected")
    assert L.ldap_error_text(None) == "no result"
    assert L.ldap_error_text({"failed": True, "msg": "x", "details": "plain text"}) == "x: plain text"


def test_ldap_python_ldap_missing_is_manual():
    failed = {"failed": True, "msg": "Failed to import the required Python library (python-ldap) on controller's "
                                     "Python /usr/bin/python3."}
    res = run(gathered(ldap_rootdse=failed), settings(ldap=LDAP))
    assert res["PRE-LDAP-BIND"]["status"] == "manual" and "python-ldap" in res["PRE-LDAP-BIND"]["remediation"]


def test_ldap_unreachable():
    reach = {"failed": True, "msg": "Timeout when waiting for 10.10.0.5:636", "elapsed": 5}
    res = one("PRE-LDAP-REACH", gathered(ldap_reach=reach), settings(ldap=LDAP))
    assert res["status"] == "fail" and "Timeout" in res["evidence"] and res["mandatory"]
    skipped = one("PRE-LDAP-REACH", gathered(ldap_reach=dict(SKIPPED)), settings(ldap=LDAP))
    assert skipped["status"] == "manual" and "skipped" in skipped["evidence"]


def test_ldap_domains():
    res = one("PRE-LDAP-DOMAINS", gathered(), settings(ldap=dict(LDAP, domains=["corp.example", "emea.corp.example"])))
    assert res["status"] == "fail" and "emea.corp.example" in res["evidence"]
    res = one("PRE-LDAP-DOMAINS", gathered(), settings(ldap=dict(LDAP, domains=[])))
    assert res["status"] == "manual" and "DC=corp,DC=example" in res["evidence"]
    assert L.domain_to_dn("corp.example.") == "dc=corp,dc=example"


def test_ldap_containers_missing_and_other_errors():
    users = {"results": [
        {"item": "OU=Staff,DC=corp,DC=example", "results": [_user("Anna")], "changed": False},
        {"item": "OU=Gone,DC=corp,DC=example", "failed": True, "msg": "Base not found: OU=Gone,DC=corp,DC=example"},
        {"item": "OU=Secret,DC=corp,DC=example", "failed": True, "msg": "Attribute action failed.",
         "details": "{'result': 50, 'desc': 'Insufficient access'}"}]}
    cfg = settings(ldap=dict(LDAP, user_containers=["OU=Staff,DC=corp,DC=example", "OU=Gone,DC=corp,DC=example",
                                                    "OU=Secret,DC=corp,DC=example"]))
    res = run(gathered(ldap_users=users), cfg)
    c = res["PRE-LDAP-CONTAINERS"]
    assert c["status"] == "fail" and c["data"]["missing"] == ["OU=Gone,DC=corp,DC=example"]
    assert "Insufficient access" in c["evidence"] and "OU=Staff,DC=corp,DC=example (1 users)" in c["evidence"]
    assert res["PRE-LDAP-ATTR-LOGIN"]["status"] == "pass"
    none = one("PRE-LDAP-CONTAINERS", gathered(), settings(ldap=dict(LDAP, user_containers=[])))
    assert none["status"] == "manual"


def test_ldap_attributes_partial_none_and_unset():
    users = _users(_user("Anna"), _user("Ben", extensionAttribute1=None),
                   _user("Cleo", extensionAttribute1=None, mail=None, department=None))
    res = run(gathered(ldap_users=users), settings(ldap=LDAP))
    card = res["PRE-LDAP-ATTR-CARD"]
    assert card["status"] == "warn" and "2 of 3" in card["evidence"] and len(card["data"]["missing"]) == 2
    assert res["PRE-LDAP-ATTR-LOGIN"]["status"] == "pass"
    wrong = dict(LDAP, attributes=dict(LDAP["attributes"], unique_id="entryUUID", card_number=""))
    res = run(gathered(ldap_users=users), settings(ldap=wrong))
    assert res["PRE-LDAP-ATTR-UID"]["status"] == "fail" and res["PRE-LDAP-ATTR-UID"]["mandatory"]
    assert res["PRE-LDAP-ATTR-CARD"]["status"] == "manual" and "objectGUID" in res["PRE-LDAP-ATTR-CARD"]["evidence"]
    empty = run(gathered(ldap_users=_users()), settings(ldap=LDAP))
    assert empty["PRE-LDAP-ATTR-NAME"]["status"] == "warn"


def test_ldap_attribute_names_are_case_insensitive_and_multi_valued():
    users = _users({"dn": "uid=x,ou=p", "UID": ["x", "x2"], "givenname": "X", "SN": "Y", "departmentnumber": "D",
                    "employeeNumber": [""], "entryuuid": "u", "mail": "x@y"})
    attrs = {"login": "uid", "given_name": "givenName", "surname": "sn", "department": "departmentNumber",
             "card_number": "employeeNumber", "unique_id": "entryUUID", "email": "mail"}
    res = run(gathered(ldap_users=users), settings(ldap=dict(LDAP, attributes=attrs)))
    assert res["PRE-LDAP-ATTR-LOGIN"]["status"] == "pass" and res["PRE-LDAP-ATTR-CARD"]["status"] == "fail"


def test_ldap_without_bind_dn():
    res = run(gathered(), settings(ldap=dict(LDAP, bind_dn="")))
    assert res["PRE-LDAP-SERVER"]["status"] == "pass" and res["PRE-LDAP-REACH"]["status"] == "pass"
    assert res["PRE-LDAP-BIND"]["status"] == "manual" and res["PRE-LDAP-CONTAINERS"]["status"] == "manual"
