"""`meshtui sim --scenario large` in a subprocess, shared by the benchmarks (the simulator must not share their GIL)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def start_sim(
    namespaces: int,
    pods_per_namespace: int,
    kubeconfig: Path,
    churn: float,
    prefix: Sequence[str] = (),
    port: int | None = None,
    **popen: Any,
) -> subprocess.Popen[str]:
    """Start the large scenario with `churn` pod changes a second; returns once it serves.

    `prefix` runs it under another command (`ip netns exec NS`), `port` fixes its port on 127.0.0.1.
    """
    cmd = [
        *prefix, sys.executable, "-m", "meshtui", "sim", "--scenario", "large",
        "--param", f"namespaces={namespaces}", "--param", f"pods_per_namespace={pods_per_namespace}",
        "--kubeconfig-out", str(kubeconfig), "--churn", str(churn),
    ]  # fmt: skip
    if port is not None:
        cmd += ["--port", str(port)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, **popen)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "press Ctrl-C" in line:
            break
    else:
        raise SystemExit("the simulator did not start")
    print(
        f"simulator: {namespaces} x {pods_per_namespace} pods, churn {churn:g}/s, serving after "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )
    # Keep draining its output so a full pipe never blocks it.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return proc


def stop_sim(proc: subprocess.Popen[str]) -> None:
    """Stop it as Ctrl-C would, killing it if it does not end in 30 s."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
