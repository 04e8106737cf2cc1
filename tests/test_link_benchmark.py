"""benchmarks/link.py skips cleanly where it cannot shape a link, its last line still machine-readable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "link.py"
SKIP_LINE = "link_first_screen_s=nan link_vs_transfer=nan kubectl_s=nan"


def run_link(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--namespaces", "2", "--pods-per-namespace", "2", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_a_forced_skip_says_why_and_ends_with_the_nan_line() -> None:
    proc = run_link("--shaper", "none")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines == ["link benchmark skipped: no shaper was chosen (--shaper none).", SKIP_LINE]
    assert "Traceback" not in proc.stderr


def test_without_iproute2_or_root_it_skips_with_one_sentence(tmp_path: Path) -> None:
    # An empty PATH: neither `ip` nor `tc` can be found (and a non-root run is refused before that).
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = run_link(env=env)
    assert proc.returncode == 0, proc.stderr
    reason, last = proc.stdout.strip().splitlines()
    assert last == SKIP_LINE
    assert reason.startswith("link benchmark skipped: ")
    assert "ip and tc not found" in reason or "need root" in reason
    assert "Traceback" not in proc.stderr
