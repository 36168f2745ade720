"""Slowloris: connections that never finish their request cannot lock a browser out of the web view."""

from __future__ import annotations

import socket
import urllib.request

from conftest import free_port

from utils.sinks.web import MAX_WAITING_PER_ADDRESS, WebSink

ATTACKERS = 40
PARTIAL_HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a"  # never ends: no blank line follows


def closed_by_server(connection: socket.socket, timeout: float) -> bool:
    connection.settimeout(timeout)
    try:
        return connection.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_forty_slow_connections_leave_the_page_to_a_browser():
    web = WebSink("127.0.0.1", free_port(), connection_timeout=120.0)  # no deadline during the test
    attackers = []
    try:
        for _ in range(ATTACKERS):  # each has connected (and is queued for the server) before the next
            connection = socket.create_connection(("127.0.0.1", web.port), timeout=10)
            connection.sendall(PARTIAL_HEAD)
            attackers.append(connection)
        with urllib.request.urlopen(web.url, timeout=60) as response:  # the browser, after all of them
            assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
            assert response.read()
        # The browser pushed out the oldest slow connection of its address; the newest ones still wait.
        closed = [closed_by_server(c, 10.0) for c in attackers[:ATTACKERS - MAX_WAITING_PER_ADDRESS + 1]]
        assert all(closed), f"{closed.count(False)} of the oldest slow connections still held a place"
        assert not any(closed_by_server(c, 0.2) for c in attackers[ATTACKERS - MAX_WAITING_PER_ADDRESS + 1:])
    finally:
        for connection in attackers:
            connection.close()
        web.close()


def test_a_head_sent_a_byte_at_a_time_is_cut_at_the_deadline():
    """Every byte comes well within the per-read timeout; the whole head still has a deadline."""
    web = WebSink("127.0.0.1", free_port(), connection_timeout=1.0)
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 40 + b"\r\n\r\n"
    connection = socket.create_connection(("127.0.0.1", web.port), timeout=10)
    try:
        sent = 0
        while sent < len(head):  # 0.25 s a byte: 20 s for the whole head, if the server let it
            try:
                connection.sendall(head[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            if closed_by_server(connection, 0.25):
                break
        assert sent < len(head), "the server waited for the whole slow head"
    finally:
        connection.close()
        web.close()
