"""A small typed client for Toxiproxy's REST API.

Why not `toxiproxy-python` (the design card's choice): its 0.1.1 release (2019) keeps the
API host as process-global state, sets no request timeouts (a hung server hangs the drill)
and ignores HTTP 500s (a failed fault injection would pass silently). A drill must know
when a fault did not take, so every call here has a timeout and every non-2xx raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from drills.errors import EnvironmentProblem

TOXIC_TYPES = ("latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data")


class ToxiproxyError(EnvironmentProblem):
    """Toxiproxy refused or failed a request; the message carries its answer."""


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any]

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Toxic:
        return cls(d["name"], d["type"], d.get("stream", "downstream"), float(d.get("toxicity", 1.0)), dict(d.get("attributes") or {}))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "stream": self.stream, "toxicity": self.toxicity, "attributes": self.attributes}


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[Toxic] = field(default_factory=list)

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Proxy:
        return cls(d["name"], d["listen"], d["upstream"], bool(d["enabled"]), [Toxic.from_api(t) for t in d.get("toxics") or []])

    @property
    def listen_port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class Toxiproxy:
    """Toxiproxy's REST API. `names` maps the paths drills knows (`app:dc1`...) to the proxies
    of someone else's Toxiproxy: every call then uses their names, `proxies()` shows only the
    mapped ones under drills' names, and nothing that would touch their other proxies
    (`reset`, `populate`, creating or deleting a proxy) is allowed."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8474, *, timeout: float = 3.0,
                 names: dict[str, str] | None = None):
        self.base = f"http://{host}:{port}"
        self.timeout = timeout
        self.names = dict(names) if names else None
        self._http = requests.Session()
        self._http.headers["User-Agent"] = "drills"

    def _call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        try:
            resp = self._http.request(method, self.base + path, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ToxiproxyError(f"Toxiproxy API at {self.base} unreachable: {type(exc).__name__}") from None
        if resp.status_code not in ok:
            try:
                detail = resp.json().get("error", resp.text)
            except ValueError:
                detail = resp.text
            raise ToxiproxyError(f"Toxiproxy {method} {path} -> HTTP {resp.status_code}: {detail.strip()}")
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def version(self) -> str:
        try:
            resp = self._http.get(self.base + "/version", timeout=self.timeout)
        except requests.RequestException as exc:
            raise ToxiproxyError(f"Toxiproxy API at {self.base} unreachable: {type(exc).__name__}") from None
        return resp.text.strip()

    def _their(self, name: str) -> str:
        if self.names is None:
            return name
        try:
            return self.names[name]
        except KeyError:
            raise ToxiproxyError(f"the environment maps no proxy to the path {name!r} "
                                 f"(mapped: {', '.join(sorted(self.names))})") from None

    def _ours(self, d: dict[str, Any], name: str) -> Proxy:
        p = Proxy.from_api(d)
        return Proxy(name, p.listen, p.upstream, p.enabled, p.toxics)

    def _own_only(self, what: str) -> None:
        if self.names is not None:
            raise ToxiproxyError(f"{what} would touch proxies drills does not own; refused in someone else's environment")

    def proxies(self) -> dict[str, Proxy]:
        raw = self._call("GET", "/proxies")
        if self.names is None:
            return {name: Proxy.from_api(d) for name, d in raw.items()}
        return {ours: self._ours(raw[theirs], ours) for ours, theirs in self.names.items() if theirs in raw}

    def proxy(self, name: str) -> Proxy:
        return self._ours(self._call("GET", f"/proxies/{self._their(name)}"), name)

    def create_proxy(self, name: str, listen: str, upstream: str, *, enabled: bool = True) -> Proxy:
        self._own_only("creating a proxy")
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return Proxy.from_api(self._call("POST", "/proxies", body))

    def update_proxy(self, name: str, *, listen: str | None = None, upstream: str | None = None, enabled: bool | None = None) -> Proxy:
        body: dict[str, Any] = {}
        if listen is not None:
            body["listen"] = listen
        if upstream is not None:
            body["upstream"] = upstream
        if enabled is not None:
            body["enabled"] = enabled
        if self.names is not None and upstream is not None:
            raise ToxiproxyError(f"re-pointing {name!r} would reconfigure a proxy drills does not own; refused")
        return self._ours(self._call("POST", f"/proxies/{self._their(name)}", body), name)

    def delete_proxy(self, name: str) -> None:
        self._own_only("deleting a proxy")
        self._call("DELETE", f"/proxies/{name}")

    def populate(self, proxies: list[dict[str, Any]]) -> list[Proxy]:
        self._own_only("populating proxies")
        out = self._call("POST", "/populate", proxies)
        items = out.get("proxies", []) if isinstance(out, dict) else out
        return [Proxy.from_api(d) for d in items]

    def toxics(self, proxy: str) -> list[Toxic]:
        return [Toxic.from_api(d) for d in self._call("GET", f"/proxies/{self._their(proxy)}/toxics")]

    def add_toxic(self, proxy: str, type: str, attributes: dict[str, Any] | None = None, *, name: str | None = None,
                  stream: str = "downstream", toxicity: float = 1.0) -> Toxic:
        if type not in TOXIC_TYPES:
            raise ToxiproxyError(f"unknown toxic type {type!r}; Toxiproxy knows {', '.join(TOXIC_TYPES)}")
        body = {"name": name or f"{type}_{stream}", "type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes or {}}
        return Toxic.from_api(self._call("POST", f"/proxies/{self._their(proxy)}/toxics", body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{self._their(proxy)}/toxics/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._own_only("resetting Toxiproxy")
        self._call("POST", "/reset")
