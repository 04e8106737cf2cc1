"""Inside the benchmark's network namespace: the simulator's port on every address, and a bulk source.

Usage (started by benchmarks/link.py inside the namespace): python nsforward.py PORT TARGET_PORT BULK_PORT

The simulator listens on 127.0.0.1 only, which the other side of the link cannot reach: this forwards
connections to PORT (any address) to 127.0.0.1:TARGET_PORT. A connection to BULK_PORT that sends a byte
count on one line is answered with that many bytes, then closed: the timed transfer that checks the
link's rate. It prints `ready` once both ports listen, then a line for each large answer (see Exchange).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

CHUNK = 256 * 1024


class Exchange:
    """Request and answer on one forwarded connection, timed: for each answer over ANSWER_LOG bytes it prints
    `answer <seconds to its first byte> <seconds to its last> <bytes>` (the first is the server's own time)."""

    def __init__(self) -> None:
        self.asked = 0.0
        self.first = self.last = 0.0
        self.size = 0

    def request(self) -> None:
        if self.size:
            self.report()
        if not self.asked:
            self.asked = time.perf_counter()

    def answer(self, size: int) -> None:
        now = time.perf_counter()
        if self.asked and not self.size:
            self.first = now
        self.last = now
        self.size += size

    def report(self) -> None:
        if self.asked and self.size > ANSWER_LOG:
            print(f"answer {self.first - self.asked:.4f} {self.last - self.asked:.4f} {self.size}", flush=True)
        self.asked, self.size = 0.0, 0


ANSWER_LOG = 256 * 1024


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Any) -> None:
    try:
        while data := await reader.read(CHUNK):
            seen(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(port: int, target: int, bulk_port: int) -> None:
    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        exchange = Exchange()
        await asyncio.gather(
            pump(reader, up_writer, lambda _size: exchange.request()), pump(up_reader, writer, exchange.answer)
        )
        exchange.report()

    async def bulk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            left = int((await reader.readline()).strip() or 0)
            block = b"\0" * CHUNK
            while left > 0:
                writer.write(block[: min(left, CHUNK)])
                left -= CHUNK
                await writer.drain()
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            writer.close()

    servers = [
        await asyncio.start_server(forward, "0.0.0.0", port),
        await asyncio.start_server(bulk, "0.0.0.0", bulk_port),
    ]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
