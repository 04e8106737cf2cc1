"""`meshtui sim`: run the simulated cluster alone and write a kubeconfig for it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from meshtui.cli import exitcodes
from meshtui.sim.launch import SimLaunchError, launch, parse_params


def run(args: argparse.Namespace) -> int:
    """Start the simulator, print how to reach it, and serve until Ctrl-C or SIGTERM."""
    try:
        params = parse_params(args.param)
        sim = launch(
            args.scenario,
            seed=args.seed,
            params=params,
            port=args.port,
            ready_delay=args.ready_delay,
            churn=args.churn,
        )
    except SimLaunchError as exc:
        print(f"meshtui sim: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        out = args.kubeconfig_out
        if out:
            sim.kubeconfig(Path(out))
        print(f"meshtui sim: scenario {args.scenario!r} serving on {sim.url}", flush=True)
        if out:
            print(f"meshtui sim: kubeconfig written to {out} (context meshtui-sim)", flush=True)
            print(f"  kubectl --kubeconfig {out} get pods -A", flush=True)
            print(f"  meshtui --kubeconfig {out}", flush=True)
        print("meshtui sim: press Ctrl-C to stop.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        sim.stop()
    print("meshtui sim: stopped.", flush=True)
    return exitcodes.OK
