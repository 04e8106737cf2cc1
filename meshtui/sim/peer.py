"""Which local user owns the other end of a loopback TCP connection (Linux: /proc/net/tcp), or None."""

from __future__ import annotations

import socket
import struct
from pathlib import Path


def _hex_address(host: str, port: int, family: int) -> str:
    """An address as /proc/net/tcp{,6} writes it: the raw bytes in host order as hex, then the port."""
    packed = socket.inet_pton(family, host)
    if family == socket.AF_INET:
        body = f"{struct.unpack('<I', packed)[0]:08X}"
    else:
        body = "".join(f"{w:08X}" for w in struct.unpack("<4I", packed))
    return f"{body}:{port:04X}"


def peer_uid(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The uid of the process side of `peer` connected to `local`; None when it cannot be told."""
    family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
    table = Path("/proc/net/tcp6" if family == socket.AF_INET6 else "/proc/net/tcp")
    try:
        want_local = _hex_address(peer[0], peer[1], family)
        want_remote = _hex_address(local[0], local[1], family)
        lines = table.read_text().splitlines()[1:]
    except (OSError, ValueError):
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 7 and fields[1] == want_local and fields[2] == want_remote:
            try:
                return int(fields[7])
            except ValueError:
                return None
    return None
