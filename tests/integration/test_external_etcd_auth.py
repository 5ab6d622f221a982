"""Issue 13: someone else's etcd speaks TLS and wants a user and password. A real etcd 3.4 with
a certificate made here by openssl and authentication enabled: the environment file's
`etcd.tls` and `etcd.user`/`password` reach it — the routing key is read and the one-drill lock
taken and given back — while a wrong password or a missing CA is a clear error that names
neither secret."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.config_center import default_document
from drills.errors import UserError
from drills.runner.safety import EnvironmentLock
from drills.topology import processes
from drills.topology.environment import load_environment
from drills.topology.external import ExternalProvider

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not shutil.which("openssl") or not shutil.which("etcdctl"), reason="needs openssl, etcdctl")]
ROOT_PW = "Rk8nV3qT6zM1"
USER_PW = "Uw2jP5hX9bL4"


def _run(*argv: str, cwd: Path | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True, timeout=30).stdout


@pytest.fixture(scope="module")
def secure_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("etcd-tls")
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=drills-test-ca",
         "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
         "-out", "server.csr", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "1", "-extfile", "san.cnf", "-out", "server.pem", cwd=d)
    ports = processes.allocate_ports({"client": 0, "peer": 0})
    client, peer = ports["client"], ports["peer"]
    proc = subprocess.Popen(
        ["etcd", "--name", "secure", "--data-dir", str(d / "data"),
         "--listen-client-urls", f"https://127.0.0.1:{client}", "--advertise-client-urls", f"https://127.0.0.1:{client}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"secure=http://127.0.0.1:{peer}", "--cert-file", str(d / "server.pem"),
         "--key-file", str(d / "server.key"), "--log-level", "error", "--logger", "zap"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        ctl = ["etcdctl", f"--endpoints=https://127.0.0.1:{client}", f"--cacert={d / 'ca.pem'}"]
        env = {**os.environ, "ETCDCTL_API": "3"}
        deadline = time.monotonic() + 15
        while subprocess.run([*ctl, "endpoint", "health"], env=env, capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "etcd with TLS did not start"
            time.sleep(0.1)
        for argv in (["user", "add", f"root:{ROOT_PW}"], ["user", "grant-role", "root", "root"],
                     ["user", "add", f"drills:{USER_PW}"], ["role", "add", "drills"],
                     ["role", "grant-permission", "drills", "--prefix=true", "readwrite", "/"],
                     ["user", "grant-role", "drills", "drills"], ["auth", "enable"]):
            subprocess.run([*ctl, *argv], env=env, check=True, capture_output=True, timeout=10)
        import json

        subprocess.run([*ctl, f"--user=root:{ROOT_PW}", "put", "/mall/router",
                        json.dumps(default_document("dc1", times=3, delay_ms=5000))], env=env, check=True,
                       capture_output=True, timeout=10)
        yield {"dir": d, "port": client}
    finally:
        processes.stop_group(proc, grace=5.0)


def environment(d: Path, port: int, tmp_path: Path, *, ca: bool = True) -> Path:
    tls = f"  tls: {{ca_file: {d / 'ca.pem'}}}\n" if ca else ""
    text = f"""\
name: secure-{tmp_path.name[-12:].replace('_', '-')}
provider: external
servers:
  dc1: {{observer: {{host: 127.0.0.1, port: 1}}}}
  dc2: {{observer: {{host: 127.0.0.1, port: 2}}}}
accounts:
  admin: {{user: a, password: {{env: X_ADMIN}}}}
  app: {{user: b, password: {{env: X_APP}}}}
etcd:
  endpoint: {{host: 127.0.0.1, port: {port}}}
  routing_key: /mall/router
  user: drills
  password: {{env: X_ETCD}}
{tls}toxiproxy: {{api: "http://127.0.0.1:1", proxies: {{"app:dc1": a, "app:dc2": b}}}}
replication: {{filter_list: {Path(__file__).resolve().parents[2] / 'fixtures' / 'filter_list.yaml'}}}
"""
    p = tmp_path / "env.yaml"
    p.write_text(text)
    return p


# Unused server passwords, random: every secret read is registered for masking for the rest of
# the process, and a short or wordy one would mask ordinary text in every later test's output.
UNUSED = {"X_ADMIN": "Qz7vK2pL9xW4", "X_APP": "Hr5tN8mB3cY6"}
WRONG_PW = "Jd4fG7kS2wE9"


def topo_of(path: Path, etcd_password: str) -> Any:
    return ExternalProvider(load_environment(path), {**UNUSED, "X_ETCD": etcd_password}).topology()


def test_the_routing_key_and_the_lock_through_tls_and_a_password(secure_etcd: dict[str, Any], tmp_path: Path) -> None:
    path = environment(secure_etcd["dir"], secure_etcd["port"], tmp_path)
    topo = topo_of(path, USER_PW)
    cc = topo.config_center(timeout=3.0)
    try:
        route = cc.read()
    finally:
        cc.close()
    assert route is not None and route.active == "dc1" and route.epoch == 1
    first = EnvironmentLock(topo, topo.environment, "run-1")
    first.acquire()
    try:
        with pytest.raises(UserError, match="being drilled by run run-1"):
            EnvironmentLock(topo, topo.environment, "run-2").acquire()
    finally:
        first.release()
    again = EnvironmentLock(topo, topo.environment, "run-3")
    again.acquire()
    again.release()


def test_a_wrong_password_or_no_ca_is_a_clear_error_without_the_secret(secure_etcd: dict[str, Any], tmp_path: Path) -> None:
    wrong = topo_of(environment(secure_etcd["dir"], secure_etcd["port"], tmp_path), WRONG_PW)
    with pytest.raises(UserError) as bad_pw:
        wrong.config_center(timeout=3.0).read()
    assert WRONG_PW not in str(bad_pw.value) and USER_PW not in str(bad_pw.value)
    no_ca = topo_of(environment(secure_etcd["dir"], secure_etcd["port"], tmp_path, ca=False), USER_PW)
    with pytest.raises(UserError) as plain:
        cc = no_ca.config_center(timeout=3.0)
        try:
            cc.read()
        finally:
            cc.close()
    assert f"127.0.0.1:{secure_etcd['port']}" in str(plain.value) and USER_PW not in str(plain.value)
