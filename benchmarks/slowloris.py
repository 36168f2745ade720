"""Slowloris against the web view: can a browser still get the page while slow connections hold on?

    python -m benchmarks.slowloris                      # a web view of its own on 127.0.0.1
    python -m benchmarks.slowloris --url http://127.0.0.1:8080/ --connections 40 --seconds 60

--connections connections each send a request line and then one header byte every --interval seconds,
never finishing their request (and reconnect when dropped, as the attack tool does). Meanwhile a "browser"
fetches the page once a second. Prints one JSON object: the browser's fetches (answered, refused, failed),
its slowest and median time to the page, and how often the slow connections were dropped.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.mosquitto import free_port  # noqa: E402

PROG = "benchmarks/slowloris.py"
TARGET_S = 5.0  # the browser must get the page within this


def slow_client(host: str, port: int, interval: float, stop: threading.Event, drops: list[int]) -> None:
    """One slowloris connection, reopened whenever the server drops it."""
    while not stop.is_set():
        try:
            with socket.create_connection((host, port), timeout=10) as connection:
                connection.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
                while not stop.wait(interval):
                    connection.sendall(b"X")  # one byte of a header that never ends
                    connection.settimeout(0.01)
                    try:
                        if connection.recv(1024) == b"":
                            break
                    except TimeoutError:
                        pass
        except OSError:
            pass
        drops.append(1)
        stop.wait(0.1)


def browser(url: str, seconds: float) -> list[tuple[str, float]]:
    """Fetches the page once a second: (outcome, seconds it took) each time."""
    fetches = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()
            outcome = "answered"
        except urllib.error.HTTPError as e:
            outcome = f"refused {e.code}"
        except OSError:
            outcome = "failed"
        fetches.append((outcome, time.monotonic() - start))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))
    return fetches


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="the web view to probe (default: start one on 127.0.0.1)")
    p.add_argument("--connections", type=int, default=40)
    p.add_argument("--interval", type=float, default=4.0, help="seconds between a slow connection's bytes")
    p.add_argument("--seconds", type=float, default=30.0, help="how long the browser keeps fetching")
    args = p.parse_args(argv)
    if args.connections < 1 or args.interval <= 0 or args.seconds <= 0:
        p.error("--connections must be 1 or more, --interval and --seconds above 0")
    web = None
    if args.url is None:
        from utils.sinks.web import WebSink

        web = WebSink("127.0.0.1", free_port())
        args.url = web.url
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    stop, drops = threading.Event(), list[int]()
    threads = [threading.Thread(target=slow_client, args=(host, port, args.interval, stop, drops), daemon=True)
               for _ in range(args.connections)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(2.0)  # all of them connected and holding on
        fetches = browser(args.url, args.seconds)
    finally:
        stop.set()
        if web is not None:
            web.close()
    times = [t for outcome, t in fetches if outcome == "answered"]
    report = {"url": args.url, "connections": args.connections, "interval_s": args.interval,
              "fetches": len(fetches), "answered": len(times),
              "refused": sum(o.startswith("refused") for o, _ in fetches),
              "failed": sum(o == "failed" for o, _ in fetches),
              "page_s_max": round(max(times), 3) if times else None,
              "page_s_median": round(statistics.median(times), 3) if times else None,
              "slow_connections_dropped": len(drops), "target_s": TARGET_S,
              "met": bool(times) and len(times) == len(fetches) and max(times) <= TARGET_S}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
