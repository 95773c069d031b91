"""A handed-over loopback port counts as ready only once something listens on it in the namespace."""

from __future__ import annotations

import os
import socket

from runyard.agent.sandbox.network import listening_ports


def test_a_listening_socket_is_seen_and_a_closed_one_is_not() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        assert port not in listening_ports(os.getpid())  # bound, not yet listening
        listener.listen(1)
        assert port in listening_ports(os.getpid())
    assert port not in listening_ports(os.getpid())
