"""Version skew (docs/istio.md#version-skew): proxy vs istiod, and the canary jump."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshtui.domain.inventory import Inventory
from meshtui.domain.skew import JUMP_TOO_FAR, PROXY_NEWER, PROXY_TOO_OLD, canary_jump, proxy_skew
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot
from meshtui.domain.versions import Version

from .builders import app, find, namespace


@pytest.mark.parametrize(
    "proxy, istiod, code",
    [
        ("1.22.3", "1.22.3", None),
        ("1.22.0", "1.23.1", None),  # one minor behind is supported
        ("1.21.6", "1.23.1", PROXY_TOO_OLD),
        ("1.23.1", "1.22.3", PROXY_NEWER),
        ("1.22.4", "1.22.3", None),  # patch releases do not count
        ("1.22.3-asm.1", "1.22.3", None),
        (None, "1.22.3", None),
        ("latest", "1.22.3", None),
    ],
)
def test_proxy_skew(proxy: str | None, istiod: str, code: str | None) -> None:
    assert proxy_skew(proxy, istiod) == code


def test_canary_jump() -> None:
    assert canary_jump("1.20.8", "1.22.3") is None  # two minors: supported
    warning = canary_jump("1.20.8", "1.23.1")
    assert warning is not None and warning.code == JUMP_TOO_FAR
    assert (
        warning.message
        == "a canary upgrade from 1.20 to 1.23 spans 3 minor versions; at most 2 are supported"
    )
    assert canary_jump("1.23.1", "1.20.0") is not None  # a rollback jump is as far
    assert canary_jump(None, "1.23.1") is None


def test_version_parsing() -> None:
    v = Version.parse("1.23.0-beta.1")
    assert v is not None and (v.major, v.minor, v.patch) == (1, 23, 0) and v.minor_version == "1.23"
    assert Version.parse("master") is None


def test_skew_warnings_in_the_view(control_plane_raw: list[dict[str, Any]]) -> None:
    objects = [*copy.deepcopy(control_plane_raw), namespace("shop", **{"istio.io/rev": "1-22-3"})]
    objects += app("early", "shop", ["1-22-3", "1-22-3"])
    objects += app("ancient", "shop", ["1-22-3"])
    for obj in objects:
        name = obj["metadata"]["name"]
        if obj["kind"] == "Pod" and name.startswith("early"):
            obj["spec"]["containers"][1]["image"] = (
                "docker.io/istio/proxyv2:1.23.1"  # an in-place upgraded proxy
            )
        if obj["kind"] == "Pod" and name.startswith("ancient"):
            obj["spec"]["containers"][1]["image"] = "docker.io/istio/proxyv2:1.20.2"
    view = Inventory.from_snapshot(MeshSnapshot((ClusterSnapshot.from_raw("c", objects),))).view()
    by_code = {w.code: w for w in view.skew}
    newer = by_code[PROXY_NEWER]
    assert (
        newer.count == 2 and newer.message == "2 proxies on 1-22-3 run 1.23.1, newer than their istiod 1.22.3"
    )
    assert len(newer.first_offenders) == 2 and all(o.startswith("shop/early-") for o in newer.first_offenders)
    old = by_code[PROXY_TOO_OLD]
    assert old.message == "1 proxy on 1-22-3 runs 1.20.2, more than one minor older than their istiod 1.22.3"


def test_jump_warning_for_the_chosen_pair(control_plane_raw: list[dict[str, Any]]) -> None:
    objects = copy.deepcopy(control_plane_raw)
    istiod = find(objects, "Deployment", "istiod-1-22-3")
    istiod["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/istio/pilot:1.20.8"
    view = Inventory.from_snapshot(MeshSnapshot((ClusterSnapshot.from_raw("c", objects),))).view()
    assert (view.source, view.target) == ("1-22-3", "1-23-1")
    assert [w.code for w in view.skew] == [JUMP_TOO_FAR]
