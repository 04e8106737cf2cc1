"""The namespaces' RESTART column counts only pods a restart moves: not ambient pods it would only push out of
ambient (the restart skips them, so they would stay "left" for ever)."""

from __future__ import annotations

from meshtui.tui.rows import restart_progress
from tests.domain.test_ambient import SOURCE, TARGET, ambient_mesh, namespace
from tests.domain.test_gates import view_of


def test_ambient_pods_that_would_leave_ambient_are_not_left_to_restart() -> None:
    mesh = ambient_mesh(ztunnel_rev=TARGET)
    objects = [o for o in mesh if not (o["kind"] == "Namespace" and o["metadata"]["name"] == "reviews")]
    objects.append(namespace("reviews", **{"istio.io/dataplane-mode": "ambient", "istio.io/rev": TARGET}))
    view = view_of(("prod", objects), source=SOURCE, target=TARGET)
    pods = [p for p in view.pods() if p.namespace == "reviews"]
    assert pods and all(p.leaves_ambient for p in pods if p.live)
    assert restart_progress(pods) == (0, 0)
