"""The test proxy that makes a database unreachable must really cut: no connection gets through after ``cut()``."""

from __future__ import annotations

import socket
import threading

from tests.support.tcp_proxy import TcpProxy


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                while data := connection.recv(1024):
                    connection.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def _echoes(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"ping")
            return sock.recv(16) == b"ping"
    except OSError:
        return False


def test_after_a_cut_no_new_connection_reaches_the_target_until_restored() -> None:
    server, port = _echo_server()
    proxy = TcpProxy("127.0.0.1", port).start()
    try:
        assert _echoes(proxy.port)
        proxy.cut()
        # The first connection after a cut used to be accepted by the still-blocked accept() call.
        assert not _echoes(proxy.port)
        assert not _echoes(proxy.port)
        proxy.restore()
        assert _echoes(proxy.port)
    finally:
        proxy.close()
        server.close()
