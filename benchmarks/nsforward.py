"""Inside the benchmark's network namespace: the simulator's port on every address, and a bulk source.

Usage (started by benchmarks/link.py inside the namespace): python nsforward.py PORT TARGET_PORT BULK_PORT

The simulator listens on 127.0.0.1 only, which the other side of the link cannot reach: this forwards
connections to PORT (any address) to 127.0.0.1:TARGET_PORT. A connection to BULK_PORT that sends a byte
count on one line is answered with that many bytes, then closed: the timed transfer that checks the
link's rate. It prints `ready` once both ports listen.
"""

from __future__ import annotations

import asyncio
import sys

CHUNK = 256 * 1024


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
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
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

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
