"""Constants of the private test directory, shared by the slapd fixture and the LDAP tests."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = "dc=safeq,dc=test"
ROOT_DN = "cn=admin," + SUFFIX
ROOT_PASSWORD = "fixture-root-Qz81"
BIND_DN = "cn=safeq-integration,ou=Service," + SUFFIX
# Distinctive strings: the tests grep every output for them. Both hold template delimiters, as random
# passwords do: the inventory must mark them !unsafe (or vault them), and a clear-text one is refused
# by the playbook without being shown.
BIND_PASSWORD = "Int3gr-{{S3cret-7431-pwd"
WRONG_PASSWORD = "Wr0ng-{%S3cret-9913-pwd"
PASSWORD_MARKERS = ("S3cret-7431", "S3cret-9913")  # parts that stay recognisable in any quoting


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
