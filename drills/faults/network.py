"""Network faults: Toxiproxy acting on one named path (`app:dc1`, `link:dc1->dc2`, `etcd`...).

Only the service path is touched, never the observer path, so the harness keeps reading
the truth while the application, the controller's probes or the replication link suffer.
Toxics carry a name derived from the fault's name, so two faults on one path never
collide and a heal removes exactly what its inject added.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from drills import masking
from drills.faults.base import Fault, FaultError
from drills.topology import processes as proc
from drills.toxiproxy import Proxy, Toxiproxy, ToxiproxyError

_TOXIC_ATTRIBUTES = {
    "latency": lambda p: {"latency": p["latency_ms"], "jitter": p["jitter_ms"]},
    "bandwidth": lambda p: {"rate": p["rate_kbps"]},
    "timeout": lambda p: {"timeout": p["timeout_ms"]},
    "reset_peer": lambda p: {"timeout": p["timeout_ms"]},
    "slow_close": lambda p: {"delay": p["delay_ms"]},
}


class ProxyFault(Fault):
    family = "network"

    @property
    def proxy_name(self) -> str:
        return self.target

    def _toxiproxy(self) -> Toxiproxy:
        return self.topo.toxiproxy()

    def _live_proxy(self, tp: Toxiproxy) -> Proxy:
        try:
            return tp.proxy(self.proxy_name)
        except ToxiproxyError as exc:
            if "404" in exc.message:
                raise FaultError(f"fault {self.name!r}: Toxiproxy has no path named {self.proxy_name!r}; "
                                 f"known: {', '.join(sorted(self.topo.proxies))}") from None
            raise


class ToxicFault(ProxyFault):
    """latency, bandwidth, timeout (blackhole), reset_peer, slow_close, etcd_slow."""

    _toxic_tag: str | None = None

    def toxic_names(self) -> dict[str, str]:
        """Names Toxiproxy keeps for this fault's toxics: the fault's name masked (a name built
        from a secret parameter must not reach another process) and a tag unique to this fault."""
        stream = self.params["stream"]
        streams = ("downstream", "upstream") if stream == "both" else (stream,)
        if self._toxic_tag is None:
            self._toxic_tag = secrets.token_hex(4)
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"drills_{masking.mask(self.name)}")[:60]
        return {s: f"{base}_{self._toxic_tag}_{s}" for s in streams}

    def _inject(self) -> None:
        toxic_type = self.fault_type.toxic
        assert toxic_type is not None
        tp = self._toxiproxy()
        live = self._live_proxy(tp)
        names = self.toxic_names()
        taken = {t.name for t in live.toxics} & set(names.values())
        if taken:
            raise FaultError(f"fault {self.name!r}: path {self.proxy_name!r} already carries toxic(s) "
                             f"{', '.join(sorted(taken))} (an earlier fault of the same name was not healed)")
        attributes = _TOXIC_ATTRIBUTES[toxic_type](self.params)
        self.details = {"proxy": self.proxy_name, "toxics": list(names.values()), "attributes": attributes}
        for stream, toxic_name in names.items():
            self._touch()
            tp.add_toxic(self.proxy_name, toxic_type, attributes, name=toxic_name, stream=stream,
                         toxicity=self.params["toxicity"])

    def _heal(self) -> dict[str, Any] | None:
        tp = self._toxiproxy()
        present = {t.name for t in tp.toxics(self.proxy_name)}
        removed = []
        for toxic_name in self.toxic_names().values():
            if toxic_name in present:
                try:
                    tp.remove_toxic(self.proxy_name, toxic_name)
                except ToxiproxyError as exc:
                    if "404" not in exc.message:  # removed meanwhile: healed all the same
                        raise
                removed.append(toxic_name)
        return {"removed": removed}


class DownFault(ProxyFault):
    """down, etcd_down: the proxy is disabled (listener closed, open connections cut)."""

    def _inject(self) -> None:
        tp = self._toxiproxy()
        live = self._live_proxy(tp)
        if not live.enabled:
            raise FaultError(f"fault {self.name!r}: path {self.proxy_name!r} is already disabled "
                             "(another fault holds it down)")
        self.details = {"proxy": self.proxy_name, "listen": live.listen}
        self._touch()
        tp.update_proxy(self.proxy_name, enabled=False)

    def _heal(self) -> dict[str, Any] | None:
        tp = self._toxiproxy()
        if not self._live_proxy(tp).enabled:
            tp.update_proxy(self.proxy_name, enabled=True)
        return None


class PortChangeFault(ProxyFault):
    """The fault of the source documents: the endpoint the clients know stops answering.
    The proxy keeps running, on another port, so new connections to the known endpoint are
    refused; open ones are cut because Toxiproxy restarts the listener."""

    def _inject(self) -> None:
        tp = self._toxiproxy()
        live = self._live_proxy(tp)
        host, old_port = live.listen.rsplit(":", 1)
        with proc.port_claim():  # a free port stays free until Toxiproxy listens on it
            new_port = self.params["port"] or _free_port()
            if new_port == int(old_port):
                raise FaultError(f"fault {self.name!r}: `port` {new_port} is the path's current port; choose another")
            if not proc.port_is_free(new_port, host):
                raise FaultError(f"fault {self.name!r}: port {new_port} is already in use; choose another or use port: 0")
            new_listen = f"{host}:{new_port}"
            self.details = {"proxy": self.proxy_name, "old_listen": live.listen, "new_listen": new_listen,
                            "old_port": int(old_port), "new_port": new_port}
            self._touch()
            moved = tp.update_proxy(self.proxy_name, listen=new_listen)
        if moved.listen_port != new_port:
            raise FaultError(f"fault {self.name!r}: Toxiproxy kept {self.proxy_name!r} on {moved.listen} "
                             f"instead of moving it to {new_listen}")

    def _heal(self) -> dict[str, Any] | None:
        old_listen = self.details.get("old_listen")
        if not old_listen:
            return None
        tp = self._toxiproxy()
        if self._live_proxy(tp).listen == old_listen:
            return None
        try:
            back = tp.update_proxy(self.proxy_name, listen=old_listen)
        except ToxiproxyError as exc:
            raise FaultError(f"could not move {self.proxy_name!r} back to {old_listen} ({exc.message}); "
                             "has another process taken that port meanwhile?") from None
        return {"listen": back.listen}


def _free_port() -> int:
    """A port nobody listens on now (on 127.0.0.1, where every path of a topology listens)."""
    return proc.allocate_ports({"port_change": 0})["port_change"]
