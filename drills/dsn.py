"""Where a server is, as a user writes it on a command line: `mysql://user:password@host:port`.

One parser for every command that takes a DSN (`check consistency --dsn`, `audit --dsn`), so
they accept the same forms, refuse the same mistakes with the same words, and never show the
password: every message quotes the DSN masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from drills.errors import ConfigError, UserError

EXPECTED = "expected mysql://user:password@host:port"


@dataclass(frozen=True)
class Dsn:
    user: str
    password: str
    host: str
    port: int
    database: str | None = None

    def masked(self) -> str:
        """What may be shown: never the password."""
        return f"mysql://{self.user}@{self.host}:{self.port}" + (f"/{self.database}" if self.database else "")


def parse_dsn(dsn: str, name: str = "--dsn", *, database: bool = False,
              error: type[UserError] = ConfigError) -> Dsn:
    """Parse `dsn`; `database` allows a `/DATABASE` path. Errors name `name` (which server or
    option) and quote the DSN masked."""
    shown = mask_dsn(dsn)
    shown = shown if len(shown) <= 100 else shown[:97] + "..."
    expected = EXPECTED + ("[/DATABASE]" if database else "")
    try:
        parts = urlsplit(dsn)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unbalanced [IPv6 literal
        raise error(f"{name}: bad DSN {shown!r}: {exc}", hint=expected) from None
    if parts.scheme not in ("mysql", "mariadb") or not hostname:
        raise error(f"{name}: bad DSN {shown!r}", hint=expected)
    if not database and parts.path not in ("", "/"):
        raise error(f"{name}: bad DSN {shown!r}: a database path is not expected",
                    hint=f"{expected}; choose tables with --tables db.t")
    # The port is read here, not by urllib: its errors ("Port out of range 0-65535", "could
    # not be cast to integer") do not say what a port may be, and it lets 0 through, which
    # no server listens on (and `0 or 3306` would then quietly connect to 3306).
    hostport = parts.netloc.rpartition("@")[2]
    after_host = hostport.partition("]")[2] if hostport.startswith("[") else hostport  # [IPv6]:port
    port_text = after_host.partition(":")[2]
    digits = port_text.removeprefix("-")
    if port_text and not (digits.isascii() and digits.isdigit()):
        raise error(f"{name}: bad DSN {shown!r}: the port {port_text[:20]!r} is not a number", hint=expected)
    port = 3306 if not port_text else (0 if port_text.startswith("-") or len(digits) > 5 else int(digits))
    if not 1 <= port <= 65535:
        raise error(f"{name}: bad DSN {shown!r}: port {port_text[:20]} is out of range (1-65535)", hint=expected)
    return Dsn(unquote(parts.username or "root"), unquote(parts.password or ""), hostname, port,
               (parts.path.lstrip("/") or None) if database else None)


def mask_dsn(dsn: str) -> str:
    """The DSN as it may be shown: the password replaced by ***."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn
    userinfo, _at, hostpart = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in userinfo else ''}@{hostpart}"
