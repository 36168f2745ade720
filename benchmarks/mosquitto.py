"""A mosquitto broker on 127.0.0.1 for the MQTT tests and the fleet benchmark, stopped by its process id."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mosquitto:
    """A mosquitto broker of one test on 127.0.0.1: started by the test, stopped by its process id.

    `users` turns on password checks; `tls` adds a TLS listener with a certificate made for the test.
    Persistence is on, so a stop (SIGTERM saves) and start keeps the sessions of persistent subscribers.
    """

    def __init__(self, folder: Path, binary: str | None = None, users: dict[str, str] | None = None,
                 tls: bool = False) -> None:
        # Servers live in /usr/sbin, which a normal user's PATH may lack.
        found = binary or shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if found is None:
            raise FileNotFoundError("mosquitto is not installed (sudo apt-get install mosquitto)")
        self.binary: str = found
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.ca_file = folder / "ca.crt" if tls else None
        lines = [f"listener {self.port} 127.0.0.1", f"allow_anonymous {'false' if users else 'true'}",
                 "persistence true", f"persistence_location {folder}/", "log_dest stderr",
                 f"user {pwd.getpwuid(os.getuid()).pw_name}"]  # started as root it would switch to 'mosquitto'
        if users:
            passwords = folder / "passwords"
            passwords.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
            passwords.chmod(0o600)
            subprocess.run(["mosquitto_passwd", "-U", str(passwords)], check=True)
            lines.append(f"password_file {passwords}")
        if tls:
            key, cert = folder / "server.key", folder / "server.crt"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
            cert.replace(folder / "ca.crt")  # self-signed: the certificate is its own CA
            lines += [f"listener {self.tls_port} 127.0.0.1", f"certfile {folder / 'ca.crt'}", f"keyfile {key}"]
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.folder / "mosquitto.log", "ab"))  # noqa: SIM115
        for _ in range(100):  # bounded: 10 s
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"mosquitto did not start: {(self.folder / 'mosquitto.log').read_text()[-500:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        self.process = None


