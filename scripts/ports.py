"""Checking that `jbts serve` can listen before it starts anything."""

from __future__ import annotations

import socket


class PortError(RuntimeError):
    """The address cannot be listened on; the message is one line."""


def check_can_listen(host: str, port: int) -> None:
    """Bind every address `host:port` resolves to, as uvicorn will, and release them at once.

    Starting the engine and migrating take seconds; a busy port found only then (uvicorn exits 3)
    wastes them and hides the cause. A port taken between this check and uvicorn's bind still
    fails in uvicorn, but that window is short.
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            # Like asyncio's create_server (uvicorn's bind): a port in TIME_WAIT is usable.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                reason = (exc.strerror or str(exc)).lower()
                raise PortError(f"cannot listen on {host}:{port}: {reason}") from exc
