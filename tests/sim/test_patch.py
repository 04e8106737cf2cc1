"""Patch flavours on their own (RFC 6902, RFC 7386, strategic merge, apply) and protobuf bodies."""

from __future__ import annotations

import pytest

from meshtui.sim import patch, protobuf
from meshtui.sim.errors import ApiError


def test_json_patch_escaping_arrays_move_copy_and_test():
    doc = {"metadata": {"labels": {"a/b": "1", "c~d": "2"}}, "list": [1, 2, 3]}
    out = patch.json_patch(
        doc,
        [
            {"op": "remove", "path": "/metadata/labels/a~1b"},
            {"op": "replace", "path": "/metadata/labels/c~0d", "value": "3"},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "add", "path": "/list/0", "value": 0},
            {"op": "remove", "path": "/list/1"},
            {"op": "copy", "from": "/list", "path": "/copied"},
            {"op": "move", "from": "/metadata/labels/c~0d", "path": "/moved"},
            {"op": "test", "path": "/moved", "value": "3"},
        ],
    )
    assert out == {"metadata": {"labels": {}}, "list": [0, 2, 3, 4], "copied": [0, 2, 3, 4], "moved": "3"}


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ([{"op": "test", "path": "/a", "value": 2}], 422),
        ([{"op": "remove", "path": "/missing"}], 422),
        ([{"op": "replace", "path": "/missing", "value": 1}], 422),
        ([{"op": "add", "path": "/list/9", "value": 1}], 422),
        ([{"op": "frobnicate", "path": "/a"}], 422),
        ([{"path": "/a", "value": 1}], 422),
        ({"op": "add"}, 400),
    ],
)
def test_json_patch_failures(ops, code):
    with pytest.raises(ApiError) as err:
        patch.json_patch({"a": 1, "list": []}, ops)
    assert err.value.code == code
    if code == 422:  # the API server's generic wording: nothing about what failed, empty details
        assert err.value.status()["message"] == "the server rejected our request due to an error in our request"
        assert err.value.status()["details"] == {}


def test_json_patch_add_without_a_value_adds_null():
    assert patch.json_patch({"a": 1}, [{"op": "add", "path": "/a"}]) == {"a": None}  # as the API server does


def test_merge_patch_rfc7386():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    assert patch.merge_patch(target, {"a": "z", "c": {"f": None}, "list": [3]}) == {
        "a": "z",
        "c": {"d": "e"},
        "list": [3],
    }


def test_strategic_merge_directives_and_merge_keys():
    current = {
        "metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "a:1",
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "volumeMounts": [{"mountPath": "/data", "name": "data"}],
                },
                {"name": "side", "image": "s:1"},
            ],
            "tolerations": [{"key": "t1"}],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "nodeSelector": {"zone": "a", "disk": "ssd"},
        },
    }
    out = patch.strategic_merge_patch(
        current,
        {
            "metadata": {"finalizers": ["b"], "labels": {"y": None}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "ports": [{"containerPort": 443}],
                        "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                    },
                    {"name": "side", "$patch": "delete"},
                    {"name": "new", "image": "n:1"},
                ],
                "tolerations": [{"key": "t2"}],
                "nodeSelector": {"$patch": "replace", "zone": "b"},
                "$setElementOrder/containers": [{"name": "app"}],
            },
        },
    )
    assert out["metadata"] == {"finalizers": ["a", "b"], "labels": {"x": "1"}}
    app, new = out["spec"]["containers"]
    assert app["image"] == "a:1" and new == {"name": "new", "image": "n:1"}
    assert app["ports"] == [{"containerPort": 443}, {"containerPort": 80, "name": "http"}]  # new items first
    assert app["volumeMounts"] == [{"mountPath": "/data", "name": "data", "readOnly": True}]
    assert out["spec"]["tolerations"] == [{"key": "t2"}]  # no merge key: replaced
    assert out["spec"]["nodeSelector"] == {"zone": "b"}
    assert "$setElementOrder/containers" not in out["spec"]


def test_strategic_merge_list_replace_and_service_ports():
    svc = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    out = patch.strategic_merge_patch(svc, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}})
    assert out["spec"]["ports"][1] == {"port": 443, "name": "https", "targetPort": 8443}
    out = patch.strategic_merge_patch(svc, {"spec": {"ports": [{"$patch": "replace"}, {"port": 8080}]}})
    assert out["spec"]["ports"] == [{"port": 8080}]


def test_apply_body_may_be_yaml_or_json():
    assert patch.parse_apply_body(b"a: 1\nb: [x]\n") == {"a": 1, "b": ["x"]}
    assert patch.parse_apply_body(b'{"a": 1}') == {"a": 1}
    with pytest.raises(ApiError) as err:
        patch.parse_apply_body(b"- 1\n- 2\n")
    assert err.value.code == 400


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_envelope_decodes_and_refuses_unknown_content():
    label = _field(1, b"k") + _field(2, b"v")
    meta = _field(1, b"cm") + _field(3, b"ns") + _field(4, b"") + _field(11, label)
    raw = _field(1, meta) + _field(2, _field(1, b"a") + _field(2, b"b"))
    body = b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, b"ConfigMap")) + _field(2, raw)
    assert protobuf.decode(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "data": {"a": "b"},
        "metadata": {"name": "cm", "namespace": "ns", "labels": {"k": "v"}},
    }
    unknown = b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, b"ConfigMap")) + _field(2, _field(9, b"x"))
    with pytest.raises(ApiError) as err:
        protobuf.decode(unknown)
    assert err.value.code == 415
