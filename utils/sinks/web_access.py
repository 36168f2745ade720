"""Who may use the web view: the Host names it answers to, an optional password, and a per-run token for
every request that changes something (the reset button, and any button to come).

- The Host check stops DNS rebinding: a page on evil.example that re-points its name at this machine still
  sends `Host: evil.example`, which is refused.
- Same origin (Origin, else Referer) plus the token stop cross-site requests: another page may send a form or
  a fetch to /reset, but cannot send the page's token, which it cannot read.
- The password keeps the network out; it is required beyond loopback unless --web-insecure. A browser logs in
  with a form and gets a session cookie; scripts send it by HTTP Basic. (A password in the URL cannot serve
  browsers: Chrome refuses every fetch() of a page opened that way.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import socket
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Classify-Token"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})  # /etc/hosts
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
SESSION_DAYS = 30  # a login lasts this long: a kiosk or a wall tablet logs in about once a month
SESSION_KEY_ROUNDS = 50_000  # PBKDF2 rounds for the cookies' key: a stolen cookie does not give the password away


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


def session_key(password: str) -> bytes:
    """The key that signs session cookies. Derived from the password, so a login outlives a restart of the app
    (a kiosk stays logged in) and a new password logs every browser out."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), b"classify.py web session", SESSION_KEY_ROUNDS)


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
    cookie_name: str = "classify_session"  # one per port: cookies do not tell ports apart
    _key: bytes = field(default=b"", repr=False)

    @classmethod
    def for_host(cls, host: str, password: str | None = None, port: int = 0) -> WebAccess:
        return cls(allowed_hosts(host), password or None, cookie_name=f"classify_session_{port}",
                   _key=session_key(password) if password else b"")

    def host_allowed(self, host_header: str | None) -> bool:
        return host_header is not None and host_name(host_header) in self.hosts

    def authorized(self, authorization: str | None, cookie: str | None = None) -> bool:
        """The right password by HTTP Basic (any user name), or a valid session cookie; everyone when there is
        no password. `cookie` is the Cookie header."""
        if self.password is None:
            return True
        return self._basic_ok(authorization) or self._session_ok(cookie)

    def _basic_ok(self, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            _user, _, given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.password_matches(given)

    def password_matches(self, given: str) -> bool:
        return self.password is not None and hmac.compare_digest(given.encode(), self.password.encode())

    def new_session(self, now: float | None = None, framed: bool = False) -> str:
        """A Set-Cookie value for a browser that logged in: a random token and its expiry, signed.

        SameSite=Strict keeps it out of every request another site starts. A page of another site that frames
        the web view (--web-embed-from) is such a site too: with `framed` (only over HTTPS) the cookie is
        SameSite=None; Secure, so the frame gets it; the buttons are still guarded by Origin and the token."""
        expires = int((time.time() if now is None else now) + SESSION_DAYS * 86400)
        value = f"{secrets.token_urlsafe(18)}.{expires}"
        return (f"{self.cookie_name}={value}.{self._sign(value)}; Max-Age={SESSION_DAYS * 86400}; Path=/; "
                f"HttpOnly; {same_site(framed)}")

    def end_session(self, framed: bool = False) -> str:
        """A Set-Cookie value that removes the session cookie (logging out)."""
        return f"{self.cookie_name}=; Max-Age=0; Path=/; HttpOnly; {same_site(framed)}"

    def _session_ok(self, cookie_header: str | None, now: float | None = None) -> bool:
        try:
            morsel = SimpleCookie(cookie_header or "").get(self.cookie_name)
        except CookieError:
            return False
        token, _, rest = (morsel.value if morsel else "").partition(".")
        expires, _, signature = rest.partition(".")
        if not (token and expires.isdigit() and signature and self._key):
            return False
        if not hmac.compare_digest(signature, self._sign(f"{token}.{expires}")):
            return False
        return (time.time() if now is None else now) < int(expires)

    def _sign(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def may_change_state(self, host: str | None, origin: str | None, token: str | None) -> bool:
        """A state-changing request must come from the page itself: `origin` (the Origin header, else the
        Referer) on the same host and port as `host` (the Host header), with the run's token."""
        return same_origin(host, origin) and hmac.compare_digest((token or "").encode(), self.token.encode())


def same_site(framed: bool) -> str:
    """The cookie's SameSite attribute; a browser takes SameSite=None only with Secure (HTTPS)."""
    return "SameSite=None; Secure" if framed else "SameSite=Strict"


def same_origin(host: str | None, origin: str | None) -> bool:
    """`origin` (an Origin or Referer header) names the same host and port as `host` (the Host header)."""
    return bool(host and origin and urlsplit(origin).netloc.lower() == host.strip().lower())
