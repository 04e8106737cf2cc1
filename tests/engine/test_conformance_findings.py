"""Product fixes found by running the engine against a real kube-apiserver (tests/conformance/test_engine_runs.py).

Each test pins the corrected behaviour without a cluster; the conformance tier shows it end to end.
"""

from __future__ import annotations

from meshtui.engine.tags import render_default_validator


def _canonical(client_config: dict[str, object]) -> dict[str, object]:
    return {
        "metadata": {"name": "istio-sidecar-injector-1-23-1", "labels": {"istio.io/rev": "1-23-1"}},
        "webhooks": [{"name": "rev.namespace.sidecar-injector.istio.io", "clientConfig": client_config}],
    }


def test_the_default_validator_of_an_istiod_reached_by_url_calls_its_validate_url() -> None:
    """Moving the default tag to a revision whose injector is a URL (istiod outside the cluster) rendered a
    validator webhook with neither url nor service, which a real API server rejects (422: exactly one of
    url or service is required); the simulator accepted it."""
    canonical = _canonical(
        {"url": "https://istiod-1-23-1.mesh.example.com:15017/inject/cluster/east/net/network1", "caBundle": "Y2E="}
    )
    vwc = render_default_validator(canonical, "1-23-1", "istio-system", "Ignore")
    client = vwc["webhooks"][0]["clientConfig"]
    assert client == {"caBundle": "Y2E=", "url": "https://istiod-1-23-1.mesh.example.com:15017/validate"}


def test_the_default_validator_of_an_in_cluster_istiod_calls_its_service() -> None:
    canonical = _canonical({"service": {"name": "istiod-1-23-1", "namespace": "istio-system", "path": "/inject"}})
    client = render_default_validator(canonical, "1-23-1", "istio-system", "Fail")["webhooks"][0]["clientConfig"]
    assert client == {"service": {"name": "istiod-1-23-1", "namespace": "istio-system", "path": "/validate"}}
