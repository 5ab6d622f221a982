"""Container images for `provider: containers`: which ones, and building them where no
registry can be reached.

Images are settings. The defaults are the official images a user's CI pulls; a topology
file (`containers: {images: ...}`) or an environment variable (`DRILLS_IMAGE_MARIADB`,
`DRILLS_IMAGE_MYSQL`, `DRILLS_IMAGE_ETCD`, `DRILLS_IMAGE_TOXIPROXY`) picks others — a team's
own server image, say. Each image is entered through its server binary, never its
entrypoint script, so any image that carries the binary works the same way.

`drills images build` makes the three from Debian's packages for machines without a registry
(this one): one minimal Debian root (debootstrap, `mariadb-server` and `etcd-server`) with the
Toxiproxy binary that `scripts/setup` built, imported once and tagged three times
(`drills-local/mariadb:10.11`, `drills-local/etcd:3.4`, `drills-local/toxiproxy:2.12.0`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from drills.errors import EnvironmentProblem, MissingBinaryError
from drills.topology import processes as proc

OFFICIAL = {
    "mariadb": "mariadb:10.11",
    "mysql": "mysql:8.4",
    "etcd": "gcr.io/etcd-development/etcd:v3.4.35",
    "toxiproxy": "ghcr.io/shopify/toxiproxy:2.12.0",
}
LOCAL = {
    "mariadb": "drills-local/mariadb:10.11",
    "etcd": "drills-local/etcd:3.4",
    "toxiproxy": "drills-local/toxiproxy:2.12.0",
}
# how each image is entered: its binary (on the image's PATH), never its entrypoint script
BINARIES = {"mariadb": "mariadbd", "mysql": "mysqld", "etcd": "etcd", "toxiproxy": "/toxiproxy"}
ENV = {"mariadb": "DRILLS_IMAGE_MARIADB", "mysql": "DRILLS_IMAGE_MYSQL", "etcd": "DRILLS_IMAGE_ETCD",
       "toxiproxy": "DRILLS_IMAGE_TOXIPROXY"}
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class Images:
    server: str
    etcd: str
    toxiproxy: str


def resolve(flavor: str, configured: dict[str, str] | None = None, environ: dict[str, str] | None = None) -> Images:
    """The topology file's choice, else the environment variable, else the official image."""
    env = os.environ if environ is None else environ
    chosen = dict(configured or {})

    def pick(kind: str) -> str:
        return chosen.get(kind) or env.get(ENV[kind]) or OFFICIAL[kind]

    return Images(server=pick(flavor), etcd=pick("etcd"), toxiproxy=pick("toxiproxy"))


def local_environment() -> dict[str, str]:
    """The variables that make every topology use the images `build` made."""
    return {ENV["mariadb"]: LOCAL["mariadb"], ENV["etcd"]: LOCAL["etcd"], ENV["toxiproxy"]: LOCAL["toxiproxy"]}


def present(client: object, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)  # type: ignore[attr-defined]
        return True
    except docker.errors.ImageNotFound:
        return False


def build(*, force: bool = False, say: object = print) -> dict[str, object]:
    """Build the local images (skipped when all three tags exist, unless `force`)."""
    from drills.topology.containers import docker_client

    client = docker_client()
    if not force and all(present(client, tag) for tag in LOCAL.values()):
        return {"built": False, "tags": list(LOCAL.values())}
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise MissingBinaryError("debootstrap is not installed (apt-get install debootstrap), so the local images "
                                 "cannot be built", hint="or set DRILLS_IMAGE_MARIADB/ETCD/TOXIPROXY to images you have")
    toxiproxy = proc.toxiproxy_binary()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="drills-image-") as tmp:
        root = Path(tmp) / "rootfs"
        res = subprocess.run([debootstrap, "--variant=minbase", "--include=mariadb-server,etcd-server", DEBIAN_SUITE,
                              str(root), DEBIAN_MIRROR], capture_output=True, text=True, timeout=1800)
        if res.returncode != 0:
            tail = " | ".join((res.stdout + res.stderr).strip().splitlines()[-4:])
            raise EnvironmentProblem(f"debootstrap failed: {tail}")
        t_root = time.monotonic() - t0
        shutil.copy2(toxiproxy, root / "toxiproxy")
        shutil.copy2(toxiproxy, root / "usr" / "local" / "bin" / "toxiproxy-server")
        for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(root / sub, ignore_errors=True)
            (root / sub).mkdir(parents=True, exist_ok=True)
        first = LOCAL["mariadb"]
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(["docker", "import", "-", first], stdin=tar.stdout, capture_output=True, text=True,
                             timeout=900)
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait()
        if imp.returncode != 0:
            raise EnvironmentProblem(f"docker import failed: {imp.stderr.strip()[-300:]}")
    image = client.images.get(first)
    for tag in list(LOCAL.values())[1:]:
        repo, _, version = tag.rpartition(":")
        image.tag(repo, version)
    return {"built": True, "tags": list(LOCAL.values()), "rootfs_s": round(t_root, 1),
            "total_s": round(time.monotonic() - t0, 1)}
