"""`meshtui sim`: run the simulated cluster alone and write a kubeconfig for it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from meshtui.cli import exitcodes
from meshtui.cli.tty_line import TtyLine
from meshtui.sim.launch import SimLaunchError, launch, parse_params


def render_revision(args: argparse.Namespace) -> int:
    """Write a revision's rendered manifests (and any gateways) to a folder and list the files."""
    from meshtui.sim.render import write_manifests

    gateways = []
    for ref in args.gateway:
        ns, sep, name = ref.partition("/")
        if not sep or not ns or not name:
            print(f"meshtui sim render-revision: --gateway {ref!r} is not NAMESPACE/NAME.", file=sys.stderr)
            return exitcodes.USAGE
        gateways.append((ns, name))
    parts = args.version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        print(f"meshtui sim render-revision: --version {args.version!r} is not X.Y.Z.", file=sys.stderr)
        return exitcodes.USAGE
    try:
        files = write_manifests(
            Path(args.out),
            args.version,
            args.revision,
            gateways=gateways,
            namespace=args.namespace,
            with_ambient=bool(getattr(args, "ambient", False)),
        )
    except OSError as exc:
        print(f"meshtui sim render-revision: cannot write to {args.out}: {exc.strerror}.", file=sys.stderr)
        return exitcodes.USAGE
    for f in files:
        print(f)
    return exitcodes.OK


def run(args: argparse.Namespace) -> int:
    """Start the simulator, print how to reach it, and serve until Ctrl-C or SIGTERM."""
    if getattr(args, "sim_command", None) == "render-revision":
        return render_revision(args)
    # A large scenario takes seconds to build: say how far, on a terminal (pipes get only the result).
    building = TtyLine()
    building.show(f"meshtui sim: building the {args.scenario!r} scenario…")
    try:
        params = parse_params(args.param)
        sim = launch(
            args.scenario,
            seed=args.seed,
            params=params,
            port=args.port,
            ready_delay=args.ready_delay,
            churn=args.churn,
            progress=lambda text: building.show(f"meshtui sim: {text}"),
        )
    except SimLaunchError as exc:
        building.clear()
        print(f"meshtui sim: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    building.clear()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        out = args.kubeconfig_out
        if out:
            try:
                sim.kubeconfig(Path(out))
            except OSError as exc:
                print(f"meshtui sim: cannot write the kubeconfig to {out} ({exc.strerror}).", file=sys.stderr)
                return exitcodes.USAGE
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
