"""Decode the Kubernetes protobuf request bodies kubectl's typed clients send, for a few kinds.

kubectl 1.37 sends `application/vnd.kubernetes.protobuf` bodies from its typed clients (`create
namespace|configmap|secret|deployment`, `auth can-i`) and does not fall back to JSON on a 415, so
the simulator decodes those kinds. Field numbers come from the k8s.io/api `generated.proto` files; a
field not modelled here is refused (415) rather than silently dropped. Responses stay JSON, which
every client accepts.
"""

from __future__ import annotations

import base64
from typing import Any

from meshtui.sim import errors

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"

# Field kinds: "s" string, "b" bytes (base64 in JSON), "i" integer, "t" bool, "S" repeated string,
# "mss" map<string,string>, "msb" map<string,bytes>, "{": {...} nested message, "[{": repeated message,
# "{}" a message kept empty (its content is not modelled).
Schema = dict[int, tuple[str, Any]]

_META: Schema = {
    1: ("name", "s"),
    2: ("generateName", "s"),
    3: ("namespace", "s"),
    11: ("labels", "mss"),
    12: ("annotations", "mss"),
    14: ("finalizers", "S"),
}
_SELECTOR: Schema = {
    1: ("matchLabels", "mss"),
    2: ("matchExpressions", ("[{", {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "S")})),
}
_CONTAINER: Schema = {
    1: ("name", "s"),
    2: ("image", "s"),
    3: ("command", "S"),
    4: ("args", "S"),
    5: ("workingDir", "s"),
    6: (
        "ports",
        (
            "[{",
            {
                1: ("name", "s"),
                2: ("hostPort", "i"),
                3: ("containerPort", "i"),
                4: ("protocol", "s"),
                5: ("hostIP", "s"),
            },
        ),
    ),
    7: ("env", ("[{", {1: ("name", "s"), 2: ("value", "s")})),
    8: ("resources", "{}"),
    13: ("terminationMessagePath", "s"),
    14: ("imagePullPolicy", "s"),
    20: ("terminationMessagePolicy", "s"),
}
_POD_SPEC: Schema = {
    2: ("containers", ("[{", _CONTAINER)),
    3: ("restartPolicy", "s"),
    20: ("initContainers", ("[{", _CONTAINER)),
}

KINDS: dict[str, Schema] = {
    "Namespace": {
        1: ("metadata", ("{", _META)),
        2: ("spec", ("{", {1: ("finalizers", "S")})),
        3: ("status", ("{", {1: ("phase", "s")})),
    },
    "ConfigMap": {1: ("metadata", ("{", _META)), 2: ("data", "mss"), 3: ("binaryData", "msb"), 4: ("immutable", "t")},
    "Secret": {
        1: ("metadata", ("{", _META)),
        2: ("data", "msb"),
        3: ("type", "s"),
        4: ("stringData", "mss"),
        5: ("immutable", "t"),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", ("{", _META)),
        2: (
            "spec",
            (
                "{",
                {
                    1: (
                        "resourceAttributes",
                        (
                            "{",
                            {
                                1: ("namespace", "s"),
                                2: ("verb", "s"),
                                3: ("group", "s"),
                                4: ("version", "s"),
                                5: ("resource", "s"),
                                6: ("subresource", "s"),
                                7: ("name", "s"),
                            },
                        ),
                    ),
                    2: ("nonResourceAttributes", ("{", {1: ("path", "s"), 2: ("verb", "s")})),
                },
            ),
        ),
        3: ("status", "{}"),
    },
    "Deployment": {
        1: ("metadata", ("{", _META)),
        2: (
            "spec",
            (
                "{",
                {
                    1: ("replicas", "i"),
                    2: ("selector", ("{", _SELECTOR)),
                    3: ("template", ("{", {1: ("metadata", ("{", _META)), 2: ("spec", ("{", _POD_SPEC))})),
                    4: ("strategy", ("{", {1: ("type", "s")})),
                    5: ("minReadySeconds", "i"),
                    6: ("revisionHistoryLimit", "i"),
                    7: ("paused", "t"),
                    9: ("progressDeadlineSeconds", "i"),
                },
            ),
        ),
        3: ("status", "{}"),
    },
}
#: Pointer fields in Go, written only when set, so a zero is meaningful.
_KEEP_ZERO = frozenset({"replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "immutable"})
_TYPE_META: Schema = {1: ("apiVersion", "s"), 2: ("kind", "s")}
_UNKNOWN: Schema = {
    1: ("typeMeta", ("{", _TYPE_META)),
    2: ("raw", "raw"),
    3: ("contentEncoding", "s"),
    4: ("contentType", "s"),
}


def _unsupported(message: str) -> errors.ApiError:
    return errors.ApiError(
        415, "UnsupportedMediaType", f"protobuf body not supported by the simulator: {message}; send JSON instead", {}
    )


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise errors.bad_request("truncated protobuf varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    out = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value = data[pos : pos + size]
            if len(value) != size:
                raise errors.bad_request("truncated protobuf field")
            pos += size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise errors.bad_request(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _empty(wire: int, value: Any) -> bool:
    if wire == 0:
        return bool(value == 0)
    if wire in (1, 5):
        return not any(value)
    if not value:
        return True
    try:
        return all(_empty(w, v) for _, w, v in _fields(bytes(value)))
    except errors.ApiError:
        return False


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _message(data: bytes, schema: Schema, where: str) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        spec = schema.get(number)
        if spec is None:
            # Go's generated marshallers write every non-pointer field, empty or not; only a field with
            # content that is not modelled here would be lost.
            if _empty(wire, value):
                continue
            raise _unsupported(f"field {number} of {where}")
        name, kind = spec
        path = f"{where}.{name}"
        if kind in ("s", "i", "t") and not value and name not in _KEEP_ZERO:
            continue  # an unset Go value: JSON would omit it
        if kind == "s":
            obj[name] = bytes(value).decode()
        elif kind == "raw":
            obj[name] = bytes(value)
        elif kind == "b":
            obj[name] = base64.b64encode(value).decode()
        elif kind == "i":
            obj[name] = _signed(value)
        elif kind == "t":
            obj[name] = bool(value)
        elif kind == "S":
            obj.setdefault(name, []).append(bytes(value).decode())
        elif kind in ("mss", "msb"):
            entry = {n: v for n, _, v in _fields(value)}
            key = bytes(entry.get(1, b"")).decode()
            raw = bytes(entry.get(2, b""))
            obj.setdefault(name, {})[key] = raw.decode() if kind == "mss" else base64.b64encode(raw).decode()
        elif kind == "{}":
            obj[name] = {}
        elif kind[0] == "{":
            obj[name] = _message(value, kind[1], path)
        else:  # "[{"
            obj.setdefault(name, []).append(_message(value, kind[1], path))
    return obj


def decode(body: bytes) -> dict[str, Any]:
    """Decode a `k8s\\0`-framed protobuf object of a supported kind into its JSON form."""
    if not body.startswith(_MAGIC):
        raise errors.bad_request("protobuf body does not start with the Kubernetes magic number")
    unknown = _message(body[len(_MAGIC) :], _UNKNOWN, "Unknown")
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    schema = KINDS.get(kind)
    if schema is None:
        raise _unsupported(f"kind {kind or '<none>'}")
    if unknown.get("contentEncoding"):
        raise _unsupported(f"content encoding {unknown['contentEncoding']}")
    obj = _message(unknown.get("raw", b""), schema, kind)
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
