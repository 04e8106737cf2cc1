"""Injections that will be refused (issue 13, item 7): from 1.31 the injector denies an invalid or
Istio-reserved `prometheus.io/port` while metrics merging is on."""

from __future__ import annotations

from typing import Any

import pytest

from meshtui.domain.inventory import InventoryView
from meshtui.domain.refusals import metrics_port_refusal

from .builders import app, pod
from .test_gates import mesh_objects, view_of

SOURCE, TARGET = "1-22-3", "1-23-1"


def mesh_on(target_version: str, annotations: dict[str, str]) -> list[dict[str, Any]]:
    """Everything on the target, whose istiod runs `target_version`; app `metrics` carries `annotations`."""
    objects = mesh_objects(TARGET)
    for o in objects:
        if o["kind"] == "Deployment" and o["metadata"]["name"] == f"istiod-{TARGET}":
            o["spec"]["template"]["spec"]["containers"][0]["image"] = f"docker.io/istio/pilot:{target_version}"
    objects += app("metrics", "cart", [TARGET], template_annotations=annotations)
    return objects


def row(view: InventoryView, prefix: str) -> Any:
    return next(p for p in view.pods("prod", "cart") if p.name.startswith(prefix))


def test_a_reserved_metrics_port_is_at_risk_on_a_1_31_revision() -> None:
    view = view_of(("prod", mesh_on("1.31.0", {"prometheus.io/port": "15090"})), source=SOURCE, target=TARGET)
    metrics = row(view, "metrics-")
    assert metrics.at_risk and metrics.injection.blocked
    assert metrics.reason == (
        "its replacement would be refused: prometheus.io/port=15090 is reserved for Istio (Envoy Prometheus), "
        "and the 1.31.0 injector refuses it while metrics merging is on"
    )
    assert "refused: prometheus.io/port=15090" in metrics.explain()
    assert not row(view, "api-").at_risk  # no annotation, nothing to refuse


@pytest.mark.parametrize(
    ("version", "annotations", "at_risk"),
    [
        ("1.30.3", {"prometheus.io/port": "15090"}, False),  # the check starts with 1.31
        ("1.31.0", {"prometheus.io/port": "8080"}, False),
        ("1.31.0", {"prometheus.io/port": "15090", "prometheus.istio.io/merge-metrics": "false"}, False),
        ("1.31.0", {"prometheus.io/port": "http-metrics"}, True),
        ("1.31.0", {"prometheus.io/port": "15020"}, True),
        ("1.32.1", {"prometheus.io/port": "70000"}, True),
        ("1.31.0", {"prometheus.istio.io/scrape-targets": "8080:/metrics,9100:/custom"}, False),
        ("1.31.0", {"prometheus.istio.io/scrape-targets": "8080:/metrics,15021:/healthz"}, True),
        ("1.31.0", {"prometheus.istio.io/scrape-targets": ":/bad"}, True),
    ],
)
def test_which_ports_are_refused(version: str, annotations: dict[str, str], at_risk: bool) -> None:
    view = view_of(("prod", mesh_on(version, annotations)), source=SOURCE, target=TARGET)
    assert row(view, "metrics-").at_risk is at_risk


def test_a_bare_pod_is_judged_on_its_own_annotations() -> None:
    objects = mesh_on("1.31.0", {})
    objects.append(pod("debug", "cart", TARGET, annotations={"prometheus.io/port": "15000"}))
    objects.append(pod("multi", "cart", TARGET, annotations={"prometheus.istio.io/scrape-targets": "9090,15053"}))
    quiet = {"prometheus.io/port": "15000", "prometheus.istio.io/merge-metrics": "false"}
    objects.append(pod("quiet", "cart", TARGET, annotations=quiet))
    view = view_of(("prod", objects), source=SOURCE, target=TARGET)
    debug = row(view, "debug")
    assert debug.at_risk and debug.reason is not None and "(Envoy admin)" in debug.reason
    multi = row(view, "multi")
    assert multi.reason is not None and "scrape-targets port=15053 is reserved for Istio (DNS proxy)" in multi.reason
    assert not row(view, "quiet").at_risk


def test_the_refusal_rule() -> None:
    assert metrics_port_refusal("15090", None, None) is None
    assert metrics_port_refusal(None, None, "1.31.0") is None
    assert metrics_port_refusal(" 15021 ", "true", "1.31.2") is not None
    assert metrics_port_refusal("0", None, "1.31.0") is not None
