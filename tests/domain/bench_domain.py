"""Timing of the domain's hot paths at the design load (50,000 pods); run it, it asserts nothing.

.venv/bin/python -m tests.domain.bench_domain
"""

from __future__ import annotations

import random
import statistics
import time

import orjson

from meshtui.domain.inventory import Inventory
from meshtui.domain.objects import (
    Model,
    kind_of,
    parse_namespace,
    parse_object,
    parse_pod,
    parse_webhook_configuration,
)

from .builders import deployment, find, load, namespace, pod, replicaset, retag

PODS_PER_DEPLOYMENT = 20
DEPLOYMENTS_PER_NAMESPACE = 5
NAMESPACES = 500  # 500 x 5 x 20 = 50,000 pods


def parse_speed() -> None:
    raw = load("pod-injected-1-22-3.yaml")[0]
    body = orjson.dumps(raw)
    pods = [orjson.loads(body) for _ in range(5000)]
    samples = []
    for _ in range(15):
        start = time.perf_counter()
        for p in pods:
            parse_pod("c", p)
        samples.append((time.perf_counter() - start) / len(pods) * 1e6)
    median = statistics.median(samples)
    print(f"parse_pod, {len(body)}-byte injected pod: min {min(samples):.1f} us, median {median:.1f} us")


def inventory_speed() -> None:
    rng = random.Random(1)
    cp = load("control-plane.yaml")
    raw: list[dict[str, object]] = []
    for i in range(NAMESPACES):
        ns = f"team-{i:04d}"
        labels = rng.choice(
            [
                {"istio.io/rev": "prod-stable"},
                {"istio-injection": "enabled"},
                {"istio.io/rev": "prod-canary"},
                {},
            ]
        )
        raw.append(namespace(ns, **labels))
        for j in range(DEPLOYMENTS_PER_NAMESPACE):
            d = deployment(f"svc{j}", ns)
            raw += [d, replicaset(d)]
            for k in range(PODS_PER_DEPLOYMENT):
                rev = rng.choice(["1-22-3", "1-22-3", "1-23-1"])
                labels = {"app": f"svc{j}", "pod-template-hash": "5d8f7c9b6"}
                raw.append(
                    pod(
                        f"svc{j}-5d8f7c9b6-{k:05d}",
                        ns,
                        rev,
                        labels=labels,
                        owner=("ReplicaSet", f"svc{j}-5d8f7c9b6"),
                    )
                )
    start = time.perf_counter()
    models = [m for o in cp + raw if (m := parse_object("c", o)) is not None]
    print(f"parse {len(models)} objects: {time.perf_counter() - start:.2f} s")
    by_kind: dict[str, list[Model]] = {}
    for m in models:
        by_kind.setdefault(kind_of(m), []).append(m)
    inv = Inventory()
    start = time.perf_counter()
    for kind in sorted(by_kind, key=lambda k: (k in ("Pod", "Namespace"), k)):
        inv.replace("c", kind, by_kind[kind])
    print(f"initial build: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    inv.view()
    print(f"first view: {(time.perf_counter() - start) * 1e3:.0f} ms")
    events = [
        parse_pod(
            "c",
            pod(
                f"svc0-5d8f7c9b6-{i % 20:05d}",
                "team-0001",
                ["1-22-3", "1-23-1"][(i // 20) % 2],
                labels={"app": "svc0", "pod-template-hash": "5d8f7c9b6"},
                owner=("ReplicaSet", "svc0-5d8f7c9b6"),
            ),
        )
        for i in range(2000)
    ]
    start = time.perf_counter()
    for e in events:
        inv.apply("c", "Pod", "MODIFIED", e)
    print(f"one pod event: {(time.perf_counter() - start) / len(events) * 1e6:.0f} us")
    start = time.perf_counter()
    inv.apply(
        "c",
        "Namespace",
        "MODIFIED",
        parse_namespace("c", namespace("team-0002", **{"istio.io/rev": "prod-canary"})),
    )
    print(f"namespace relabel (100 pods): {(time.perf_counter() - start) * 1e3:.1f} ms")
    tag = retag(find(cp, "MutatingWebhookConfiguration", "istio-revision-tag-prod-stable"), "1-23-1")
    start = time.perf_counter()
    inv.apply("c", "MutatingWebhookConfiguration", "MODIFIED", parse_webhook_configuration("c", tag))
    print(f"tag move (every pod reassessed): {(time.perf_counter() - start) * 1e3:.0f} ms")
    start = time.perf_counter()
    inv.view()
    print(f"view after the tag move: {(time.perf_counter() - start) * 1e3:.0f} ms")


if __name__ == "__main__":
    parse_speed()
    inventory_speed()
