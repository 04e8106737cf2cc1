"""One quick request per cluster before any real work, so an unreachable cluster is one sentence within seconds.

The probe's connect timeout is short (a healthy API server accepts a connection, TLS included, well within it;
a dropped SYN or a full accept queue would otherwise hold the operator for the ordinary connect timeout), while
its read timeout stays the client's: a server that is reachable but slow to answer is waited for.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.rawapi import RawApi

#: Seconds the probe waits for a connection (TCP and TLS) to each API server.
PROBE_CONNECT_S = 3.0


def probe(targets: list[ClusterTarget], connect_s: float = PROBE_CONNECT_S) -> None:
    """GET /version of every cluster at once; raises the ClusterError of the first failing one, in order."""

    def one(target: ClusterTarget) -> None:
        api = RawApi(target.api_client, target.name)
        options = api.options
        timeout = (min(connect_s, options.connect_timeout_s), options.read_timeout_s)
        api.request("GET", "/version", timeout=timeout, what="checking that it answers")

    if len(targets) == 1:
        one(targets[0])
        return
    pool = ThreadPoolExecutor(max_workers=min(8, len(targets)), thread_name_prefix="probe")
    try:
        for future in [pool.submit(one, t) for t in targets]:
            future.result()
    finally:
        # A failure is reported at once, not after the other clusters' (possibly slow) answers.
        pool.shutdown(wait=False, cancel_futures=True)
