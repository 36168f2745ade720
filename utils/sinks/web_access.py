"""Who may use the web view: the Host names it answers to, an optional password, and a per-run token for
every request that changes something (the reset button, and any button to come).

- The Host check stops DNS rebinding: a page on evil.example that re-points its name at this machine still
  sends `Host: evil.example`, which is refused.
- Same origin (Origin, else Referer) plus the token stop cross-site requests: another page may send a form or
  a fetch to /reset, but cannot send the page's token, which it cannot read.
- The password (HTTP Basic) keeps the network out; it is required beyond loopback unless --web-insecure.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import secrets
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Classify-Token"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})  # /etc/hosts
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def host_name(host_header: str) -> str:
    """"Pi.local:8080" -> "pi.local", "[::1]:8080" -> "::1": the name of a Host header, without the port."""
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def interface_addresses() -> set[str]:
    """The addresses of all this machine's interfaces: what a browser on the network may call it."""
    try:
        import psutil

        return {a.address.split("%")[0] for addresses in psutil.net_if_addrs().values() for a in addresses
                if a.family in (socket.AF_INET, socket.AF_INET6)}
    except (ImportError, OSError) as e:  # without psutil: the addresses the host name resolves to
        log.debug("no interface addresses from psutil (%s); resolving the host name", e)
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return set()


def allowed_hosts(host: str) -> frozenset[str]:
    """The Host names a server listening on `host` answers to: its own, this machine's names and the loopback
    ones, and for a wildcard address (0.0.0.0, ::) the addresses of all its interfaces."""
    hostname = socket.gethostname()
    names: set[str] = {host, hostname, f"{hostname}.local", "127.0.0.1", "::1", *LOOPBACK_NAMES}
    if host in WILDCARDS:
        names |= interface_addresses()
    return frozenset(name.lower() for name in names if name)


@dataclass(frozen=True)
class WebAccess:
    """The rules for one web view; `token` is new for every run."""

    hosts: frozenset[str]
    password: str | None = field(default=None, repr=False)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)

    @classmethod
    def for_host(cls, host: str, password: str | None = None) -> WebAccess:
        return cls(allowed_hosts(host), password or None)

    def host_allowed(self, host_header: str | None) -> bool:
        return host_header is not None and host_name(host_header) in self.hosts

    def authorized(self, authorization: str | None) -> bool:
        """Any user name with the right password (HTTP Basic); everyone when there is no password."""
        if self.password is None:
            return True
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            _user, _, given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(given.encode(), self.password.encode())

    def may_change_state(self, host: str | None, origin: str | None, token: str | None) -> bool:
        """A state-changing request must come from the page itself: `origin` (the Origin header, else the
        Referer) on the same host and port as `host` (the Host header), with the run's token."""
        if not host or not origin or urlsplit(origin).netloc.lower() != host.strip().lower():
            return False
        return hmac.compare_digest((token or "").encode(), self.token.encode())
