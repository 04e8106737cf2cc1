"""`meshtui sim --scenario large` in a subprocess, shared by the benchmarks (the simulator must not share their GIL)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_sim(namespaces: int, pods_per_namespace: int, kubeconfig: Path, churn: float) -> subprocess.Popen[str]:
    """Start the large scenario with `churn` pod changes a second; returns once it serves."""
    cmd = [
        sys.executable, "-m", "meshtui", "sim", "--scenario", "large",
        "--param", f"namespaces={namespaces}", "--param", f"pods_per_namespace={pods_per_namespace}",
        "--kubeconfig-out", str(kubeconfig), "--churn", str(churn),
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
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
