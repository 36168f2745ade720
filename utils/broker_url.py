"""The MQTT broker address given by --mqtt: mqtt://[user@]host[:port] or mqtts://... (TLS)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
MAX_MQTT_STRING_BYTES = 65535  # an MQTT string or password is length-prefixed by two bytes


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """The broker of `url`; ValueError with what is wrong. A password in the URL is refused: it would be
    visible to every user in `ps`, so it comes from MQTT_PASSWORD or the config file instead."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError as e:  # "mqtt://[::1" (Invalid IPv6 URL)
        raise ValueError(f"--mqtt is not a valid address ({e}), got {url!r}") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"--mqtt must look like mqtt://host[:port] or mqtts://host[:port], got {url!r}")
    if parts.password is not None:
        raise ValueError("--mqtt must not hold the password (anyone can read it in `ps`); "
                         "set MQTT_PASSWORD in the environment or mqtt_password in the config file")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"--mqtt takes a broker address only (no path or query), got {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"--mqtt port must be 1..65535, got {url!r}") from None
    if not parts.hostname:
        raise ValueError(f"--mqtt has no host name, got {url!r}")
    try:
        parts.hostname.encode("idna")  # as the connection will: a..b or a part over 63 characters cannot be looked up
    except UnicodeError:
        raise ValueError(f"--mqtt host name {parts.hostname!r} is not a valid host name, got {url!r}") from None
    if port == 0:
        raise ValueError(f"--mqtt port must be 1..65535, got {url!r}")
    username = urllib.parse.unquote(parts.username) if parts.username else None
    if username is not None and (problem := mqtt_string_problem(username)):
        raise ValueError(f"--mqtt user name {problem}")
    return BrokerAddress(parts.hostname, port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts", username)


def topic_name_problem(name: str) -> str | None:
    """Why `name` cannot be one level of an MQTT topic (None when it can)."""
    if not name or not name.strip():
        return "must not be empty"
    bad = sorted({c for c in name if c in "/+#" or c == "\0"})
    if bad:
        return f"must not contain {' '.join(repr(c) for c in bad)} (they are special in MQTT topics)"
    if len(name.encode()) > 64:
        return "must be at most 64 bytes"
    return None


def mqtt_string_problem(text: str) -> str | None:
    """Why `text` cannot be an MQTT string (user name, password), or None: at most 65535 bytes of UTF-8."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # bytes of another encoding, from the command line or the environment
        return "is not UTF-8 text"
    if size > MAX_MQTT_STRING_BYTES:
        return f"is {size} bytes long; MQTT allows at most {MAX_MQTT_STRING_BYTES}"
    return None
