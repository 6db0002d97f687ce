"""Local stand-ins of outside services, reached over real sockets through the same endpoint settings
a user would set (e.g. STRIPE_API_BASE)."""

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
