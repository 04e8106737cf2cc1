"""Pods the injector will refuse at creation: predicted per Istio version (docs/istio.md keeps the table).

From Istio 1.31 the injector denies a pod whose `prometheus.io/port` is not a valid port or is one of
the ports Istio's data plane reserves, while metrics merging is on (the default): such a pod, restarted
onto a 1.31 or newer revision, does not come back.
"""

from __future__ import annotations

from meshtui.domain.versions import Version

METRICS_PORT = "metrics_port"  # the refusal code of an invalid or reserved prometheus.io/port
#: The first Istio minor whose injector refuses such pods.
METRICS_PORT_CHECK_FROM = (1, 31)

#: Ports the Istio data plane owns (`istioReservedPorts` in pilot/cmd/pilot-agent/status/server.go).
RESERVED_PORTS = {
    "15000": "Envoy admin",
    "15001": "outbound traffic capture",
    "15004": "pilot debug",
    "15006": "inbound traffic capture",
    "15008": "HBONE tunnel",
    "15020": "pilot-agent status / merged Prometheus",
    "15021": "Envoy health",
    "15053": "DNS proxy",
    "15090": "Envoy Prometheus",
}


def metrics_port_refusal(
    port: str | None, merge_metrics: str | None, version: str | None, scrape_targets: str | None = None
) -> str | None:
    """Why the injector of `version` refuses a pod with this `prometheus.io/port` (or these
    `prometheus.istio.io/scrape-targets`, `port:path` entries), None when it does not."""
    if (port is None and scrape_targets is None) or version is None:
        return None
    parsed = Version.parse(version)
    if parsed is None or (parsed.major, parsed.minor) < METRICS_PORT_CHECK_FROM:
        return None
    if merge_metrics is not None and merge_metrics.strip().lower() == "false":
        return None
    ports = [("prometheus.io/port", port)] if port is not None else []
    for entry in (scrape_targets or "").split(","):
        if entry.strip():
            ports.append(("prometheus.istio.io/scrape-targets port", entry.split(":", 1)[0]))
    for what, value in ports:
        text = value.strip()
        number = int(text) if text.isdigit() else None
        if number is None or not 1 <= number <= 65535:
            return f"{what}={value!r} is not a valid port, and the {version} injector refuses it"
        reason = RESERVED_PORTS.get(str(number))
        if reason is not None:
            return (
                f"{what}={value} is reserved for Istio ({reason}), and the {version} injector refuses it "
                "while metrics merging is on"
            )
    return None
