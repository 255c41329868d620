"""A private slapd for the LDAP prerequisite tests.

The fixture installs nothing: it expects the Debian packages ``slapd`` and ``ldap-utils``
(scripts/setup.sh installs them). It starts its own slapd as a child process of the test run,
from a temporary slapd.conf (mdb backend, suffix dc=safeq,dc=test, rootdn with a password),
listening only on ldap://127.0.0.1:<free port>/, seeds it with ldapadd and stops it at the end.
A system slapd started by the Debian package is not touched (own config, own port, own pid file).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from slapd_directory import BIND_DN, BIND_PASSWORD, ROOT_DN, ROOT_PASSWORD, SUFFIX, free_port


SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
STARTUP_SECONDS = 15


def _tool(name):
    for path in (shutil.which(name), "/usr/sbin/" + name, "/usr/bin/" + name):
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail("%s not found: install the Debian packages slapd and ldap-utils (scripts/setup.sh)" % name)


def _user(uid, given, surname, department, card=None, number=1000):
    lines = [
        "dn: uid=%s,{ou}," % uid + SUFFIX,
        "objectClass: inetOrgPerson",
        "objectClass: posixAccount",
        "uid: %s" % uid,
        "cn: %s %s" % (given, surname),
        "givenName: %s" % given,
        "sn: %s" % surname,
        "departmentNumber: %s" % department,
        "mail: %s@safeq.test" % uid,
        "uidNumber: %d" % number,
        "gidNumber: 1000",
        "homeDirectory: /home/%s" % uid,
    ]
    if card:
        lines.append("employeeNumber: %s" % card)
    return "\n".join(lines)


def seed_ldif(password_hash):
    entries = [
        "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: safeq\no: SafeQ test" % SUFFIX,
        "dn: ou=People,%s\nobjectClass: organizationalUnit\nou: People" % SUFFIX,
        "dn: ou=Contractors,%s\nobjectClass: organizationalUnit\nou: Contractors" % SUFFIX,
        "dn: ou=Service,%s\nobjectClass: organizationalUnit\nou: Service" % SUFFIX,
        "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: safeq-integration\n"
        "userPassword: %s" % (BIND_DN, password_hash),
        # complete users: every attribute SafeQ needs, card number in employeeNumber
        _user("alice", "Alice", "Archer", "D-100", card="CARD-0001", number=1001).format(ou="ou=People"),
        _user("bob", "Bob", "Baker", "D-200", card="CARD-0002", number=1002).format(ou="ou=People"),
        # users without a card number
        _user("carol", "Carol", "Cooper", "D-300", number=1003).format(ou="ou=Contractors"),
        _user("dave", "Dave", "Dyer", "D-300", number=1004).format(ou="ou=Contractors"),
    ]
    return "\n\n".join(entries) + "\n"


class Slapd:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.uri = "ldap://127.0.0.1:%d" % self.port
        self.proc = None
        self.log = self.workdir / "slapd.log"

    def _conf(self):
        root_hash = subprocess.run([_tool("slappasswd"), "-s", ROOT_PASSWORD], check=True, capture_output=True,
                                   text=True).stdout.strip()
        lines = ["include /etc/ldap/schema/%s.schema" % s for s in SCHEMAS]
        lines += [
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "pidfile %s" % (self.workdir / "slapd.pid"),
            "argsfile %s" % (self.workdir / "slapd.args"),
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by * read",
            "database mdb",
            "maxsize 10485760",
            'suffix "%s"' % SUFFIX,
            'rootdn "%s"' % ROOT_DN,
            "rootpw %s" % root_hash,
            "directory %s" % (self.workdir / "db"),
        ]
        (self.workdir / "db").mkdir()
        conf = self.workdir / "slapd.conf"
        conf.write_text("\n".join(lines) + "\n")
        subprocess.run([_tool("slaptest"), "-f", str(conf), "-u"], check=True, capture_output=True)
        return conf

    def start(self):
        conf = self._conf()
        with open(self.log, "wb") as log:
            # -d 0: stay in the foreground as our child (no daemonising), no debug output.
            self.proc = subprocess.Popen([_tool("slapd"), "-f", str(conf), "-h", self.uri + "/", "-d", "0"],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("slapd exited with %s: %s" % (self.proc.returncode, self.log.read_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("slapd did not listen on %s within %ss" % (self.uri, STARTUP_SECONDS))
        bind_hash = subprocess.run([_tool("slappasswd"), "-s", BIND_PASSWORD], check=True, capture_output=True,
                                   text=True).stdout.strip()
        ldif = self.workdir / "seed.ldif"
        ldif.write_text(seed_ldif(bind_hash))
        subprocess.run([_tool("ldapadd"), "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD, "-f", str(ldif)],
                       check=True, capture_output=True, timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def slapd():
    workdir = tempfile.mkdtemp(prefix="safeq-slapd-")
    server = Slapd(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
