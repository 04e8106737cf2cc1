"""Decode pod list pages keeping only the fields the domain reads, skipping the rest in C.

A 50,000-pod list is ~300 MB of JSON; building every nested dict of it costs seconds, while the domain
needs a few dozen fields a pod. msgspec skips unknown fields without creating Python objects for them.
Anything that does not fit the schema falls back to a full decode, so odd objects are still parsed
(and reported) by the domain exactly as before.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson


class _Container(msgspec.Struct):
    name: Any = None
    image: Any = None
    restartPolicy: Any = None


class _Condition(msgspec.Struct):
    type: Any = None
    status: Any = None


class _ContainerStatus(msgspec.Struct):
    restartCount: Any = None
    state: Any = None
    lastState: Any = None


class _OwnerRef(msgspec.Struct):
    kind: Any = None
    name: Any = None
    controller: Any = None


class _Meta(msgspec.Struct):
    name: Any = None
    namespace: Any = None
    uid: Any = None
    resourceVersion: Any = None
    labels: Any = None
    annotations: Any = None
    deletionTimestamp: Any = None
    ownerReferences: list[_OwnerRef] | None = None


class _Spec(msgspec.Struct):
    containers: list[_Container] | None = None
    initContainers: list[_Container] | None = None
    hostNetwork: Any = None
    nodeName: Any = None


class _Status(msgspec.Struct):
    phase: Any = None
    conditions: list[_Condition] | None = None
    containerStatuses: list[_ContainerStatus] | None = None
    initContainerStatuses: list[_ContainerStatus] | None = None
    startTime: Any = None


class _Pod(msgspec.Struct):
    metadata: _Meta | None = None
    spec: _Spec | None = None
    status: _Status | None = None


class _ListMeta(msgspec.Struct):
    resourceVersion: Any = None
    # `continue` is a Python keyword: renamed on the wire.
    cont: Any = msgspec.field(default=None, name="continue")


class _PodList(msgspec.Struct):
    metadata: _ListMeta | None = None
    items: list[_Pod] | None = None


_DECODER = msgspec.json.Decoder(_PodList)


def decode_pod_list(data: bytes) -> dict[str, Any]:
    """A pod list page as plain dicts with only the fields the domain reads (full decode if it does not fit)."""
    try:
        page = _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        result: dict[str, Any] = orjson.loads(data)
        return result
    meta = page.metadata or _ListMeta()
    return {
        "metadata": {"resourceVersion": meta.resourceVersion, "continue": meta.cont},
        "items": msgspec.to_builtins(page.items or []),
    }
