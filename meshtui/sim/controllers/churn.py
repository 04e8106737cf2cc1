"""Pod churn at a fixed rate: annotation (or status) writes to existing pods, for watch and UI benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from meshtui.sim import errors
from meshtui.sim.store import Obj, Store, now_rfc3339

CHURN = "sim.meshtui.io/churn"


class PodChurn:
    """Modify existing pods at `rate_per_second` on the store's loop, round-robin over the pods.

    Each change is one store update (one MODIFIED event), cheap enough for 2,000 a second: the
    controllers ignore pod changes that do not touch phase, readiness, labels or ownership.
    """

    def __init__(self, store: Store, rate_per_second: float, *, mode: str = "annotation", tick: float = 0.01):
        if mode not in ("annotation", "status"):
            raise ValueError(f"unknown churn mode {mode!r}")
        self.store = store
        self.rate = float(rate_per_second)
        self.mode = mode
        self.tick = tick
        self.changes = 0
        self._task: asyncio.Task[None] | None = None
        self._keys: list[tuple[str, str]] = []
        self._cursor = 0
        self._seq = itertools.count(1)

    def start(self) -> None:
        """Start churning (call on the store's loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="meshtui-sim-pod-churn")

    async def stop(self) -> None:
        """Stop churning and wait for the task to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        start = time.monotonic()
        done = 0
        while True:
            await asyncio.sleep(self.tick)
            due = int((time.monotonic() - start) * self.rate) - done
            for _ in range(max(0, min(due, int(self.rate) + 1))):
                if self.change_one():
                    done += 1
                else:
                    done += due  # no pods: do not build up a debt
                    break

    def change_one(self) -> bool:
        """Modify the next pod; False when there is no pod at all."""
        for _ in range(2):
            if self._cursor >= len(self._keys):
                self._keys = [(e.namespace, e.name) for e in self.store.entries("pods")]
                self._cursor = 0
                if not self._keys:
                    return False
            ns, name = self._keys[self._cursor]
            self._cursor += 1
            try:
                self._apply(ns, name)
            except errors.ApiError:
                continue
            self.changes += 1
            return True
        return False

    def _apply(self, ns: str, name: str) -> None:
        seq = str(next(self._seq))
        if self.mode == "annotation":

            def annotate(obj: Obj) -> Obj:
                # "<seq> <unix time>": the time lets a benchmark measure the lag to its watchers.
                obj["metadata"].setdefault("annotations", {})[CHURN] = f"{seq} {time.time():.6f}"
                return obj

            self.store.update("pods", ns, name, annotate, admit=False)
        else:
            now = now_rfc3339()

            def probe(obj: Obj) -> Obj:
                for cond in (obj.get("status") or {}).get("conditions") or []:
                    cond["lastProbeTime"] = now
                obj.setdefault("status", {})["message"] = f"churn {seq}"
                return obj

            self.store.update("pods", ns, name, probe, subresource="status")
