"""Render each tab of `meshtui demo` to screenshots/*.png (for the README).

Usage: python scripts/screenshots.py [--size 120x36] [--out screenshots]

The demo simulator runs in this process with the real engine session, exactly as `meshtui demo` builds
it; the script starts the upgrade and runs the verify checks so every tab has content, exports Textual's
SVG screenshots and converts them to PNG with cairosvg (installed with pip if missing) or, failing
that, rsvg-convert. Textual's SVG assumes a 0.61em character advance; both converters draw Fira Code
at 0.6em, so a 0.2px letter spacing is added to keep the columns aligned.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meshtui.cluster.kubeconfig import connect  # noqa: E402
from meshtui.sim.launch import launch  # noqa: E402
from meshtui.tui.factory import build_app, make_session, watch_targets  # noqa: E402
from meshtui.tui.logfile import setup_logging  # noqa: E402
from meshtui.tui.screens.plan import PlanScreen  # noqa: E402
from meshtui.tui.settings import DashboardSettings  # noqa: E402

LETTER_SPACING = "text { letter-spacing: 0.2px; }"


def png_converter() -> Callable[[str, Path], None]:
    """cairosvg (pip-installed on demand), else rsvg-convert."""
    try:
        cairosvg = importlib.import_module("cairosvg")
    except ImportError:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "cairosvg"], check=False)
        try:
            cairosvg = importlib.import_module("cairosvg") if done.returncode == 0 else None
        except ImportError:
            cairosvg = None
    if cairosvg is not None:
        return lambda svg, out: cairosvg.svg2png(bytestring=svg.encode(), write_to=str(out))
    rsvg = shutil.which("rsvg-convert")
    if rsvg is None:
        raise SystemExit("no SVG converter: pip install cairosvg, or apt-get install librsvg2-bin")

    def convert(svg: str, out: Path) -> None:
        subprocess.run([rsvg, "-f", "png", "-o", str(out)], input=svg.encode(), check=True)

    return convert


async def until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait (on the app's loop) until the dashboard shows what is wanted."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def shoot(size: tuple[int, int], out: Path) -> list[Path]:
    convert = png_converter()
    sim = launch("demo", seed=1, ready_delay=0.2)
    written: list[Path] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = sim.kubeconfig(Path(tmp) / "kubeconfig")
            targets = connect(str(kubeconfig), None)
            settings = DashboardSettings(title="meshtui demo")
            mesh = watch_targets(targets)
            session, problem = make_session(targets, settings)
            app = build_app(mesh, session, settings=settings, session_problem=problem)
            try:
                async with app.run_test(size=size) as pilot:
                    dash: Any = app.dashboard  # type: ignore[attr-defined]

                    async def apply(key: str, what: str) -> None:
                        await pilot.press(key)
                        await until(lambda: isinstance(app.screen, PlanScreen) and app.screen.applicable, what)
                        await pilot.press("enter")
                        await until(lambda: not dash.runner.running and not dash.runner.preparing, f"{what} to run")
                        await pilot.pause(1.0)

                    def save(name: str) -> None:
                        svg = app.export_screenshot(title="meshtui demo").replace(
                            "</style>", LETTER_SPACING + "</style>", 1
                        )
                        path = out / f"{name}.png"
                        convert(svg, path)
                        written.append(path)

                    await until(lambda: dash.snapshot is not None and dash.snapshot.synced, "the first snapshot")
                    await until(lambda: dash.engine_state is not None, "the engine state")
                    await apply("b", "the start plan")
                    await apply("v", "the verify plan")
                    await until(lambda: bool(dash.engine_state.checks), "the verify results")
                    steps: list[tuple[str, tuple[str, ...]]] = [
                        ("01-namespaces", ("2", "n")),
                        ("02-pods", ("slash", *"catalog", "enter", "enter")),
                        ("03-pod-detail", ("enter",)),
                        ("04-gateways", ("escape", "escape", "escape", "w")),
                        ("05-control-plane", ("1",)),
                        ("06-verify", ("3",)),
                        ("07-finish", ("4",)),
                        ("08-journal", ("5",)),
                        ("09-journal-entry", ("enter",)),
                        ("10-upgrade-disabled", ("escape", "2", "n", "U")),
                        ("11-plan", ("escape", "slash", *"rev:1-22-3", "enter", "space", "j", "space", "s")),
                        ("12-help", ("escape", "question_mark")),
                        ("13-palette", ("escape", "colon")),
                    ]
                    for name, keys in steps:
                        await pilot.press(*keys)
                        if name == "11-plan":
                            await until(
                                lambda: isinstance(app.screen, PlanScreen) and app.screen.applicable, "the switch plan"
                            )
                        await pilot.pause(0.3)
                        save(name)
                        print(f"wrote {out / name}.png", flush=True)
                    await pilot.press("escape")
            finally:
                mesh.stop()
                if session is not None:
                    session.close()
                for target in targets:
                    target.api_client.close()
    finally:
        sim.stop()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="120x36", help="terminal size, WIDTHxHEIGHT (default 120x36)")
    parser.add_argument("--out", default=str(ROOT / "screenshots"), help="output folder (default screenshots/)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MESHTUI_LOG", str(Path(tempfile.gettempdir()) / "meshtui-screenshots.log"))
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    setup_logging()
    written = asyncio.run(shoot((width, height), out))
    print(f"{len(written)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
