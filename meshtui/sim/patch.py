"""The four PATCH flavours the API server accepts: JSON Patch, JSON merge patch, strategic merge, apply.

Each function takes the current object (a private copy it may mutate) and the decoded patch and returns
the patched object, raising `ApiError` with the API server's status codes: a malformed patch document is
a 400, a patch that cannot be applied (a failed `test`, a missing path) is a 422.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import yaml

from meshtui.sim import errors

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
CONTENT_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

_MISSING = object()


def _unprocessable(message: str) -> errors.ApiError:
    return errors.ApiError(422, "Invalid", message)


# -- RFC 6902 JSON Patch ------------------------------------------------------------------------------


def parse_pointer(pointer: str) -> list[str]:
    """Split an RFC 6901 JSON pointer into unescaped tokens (`~1` is `/`, `~0` is `~`)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _unprocessable(f"invalid JSON pointer {pointer!r}: must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise _unprocessable(f"invalid array index {token!r}")
    i = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if i > limit:
        raise _unprocessable(f"array index {i} out of bounds")
    return i


def _parent(doc: Any, tokens: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise _unprocessable(f"doc is missing path: {path!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise _unprocessable(f"doc is missing path: {path!r}")
    return node, tokens[-1]


def _get(doc: Any, path: str) -> Any:
    node = doc
    for token in parse_pointer(path):
        if isinstance(node, dict):
            if token not in node:
                raise _unprocessable(f"doc is missing path: {path!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise _unprocessable(f"doc is missing path: {path!r}")
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = parse_pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise _unprocessable(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = parse_pointer(path)
    if not tokens:
        raise _unprocessable("cannot remove the whole document")
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, allow_end=False))
    raise _unprocessable(f"doc is missing path: {path!r}")


def _replace(doc: Any, path: str, value: Any) -> Any:
    tokens = parse_pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        parent[_index(parent, last, allow_end=False)] = value
    else:
        raise _unprocessable(f"doc is missing path: {path!r}")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 patch (add, remove, replace, move, copy, test).

    A patch that cannot apply (a failed `test`, a missing path, an unknown op) is the API server's
    generic 422, which says nothing about what failed and has empty details; a body that is not a list of
    operations is a 400.
    """
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise errors.bad_request(
            "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
        )
    try:
        return _json_patch(doc, ops)
    except errors.ApiError as exc:
        if exc.code == 422:
            raise errors.unprocessable() from None
        raise


def _json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    for op in ops:
        kind = op.get("op")
        path = op.get("path")
        if not isinstance(path, str):
            raise _unprocessable(f"json patch operation {kind!r} is missing a string 'path'")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))  # a missing value adds null, as there
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc = _replace(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            src = op.get("from")
            if not isinstance(src, str):
                raise _unprocessable("json patch operation 'move' is missing 'from'")
            doc, value = _remove(doc, src)
            doc = _add(doc, path, value)
        elif kind == "copy":
            src = op.get("from")
            if not isinstance(src, str):
                raise _unprocessable("json patch operation 'copy' is missing 'from'")
            doc = _add(doc, path, copy.deepcopy(_get(doc, src)))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _unprocessable(f"testing value {path} failed: test failed")
        else:
            raise _unprocessable(f"Unexpected kind: {kind}")
    return doc


# -- RFC 7386 JSON merge patch ------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: objects merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- strategic merge patch ----------------------------------------------------------------------------

#: Lists merged element-wise by a key, as the Kubernetes types declare with patchMergeKey.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
#: Lists of scalars with patchStrategy merge: the patch's values are added (a set union).
_PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(path: tuple[str, ...], field: str) -> str | None:
    if field == "ports":
        # Container ports merge by containerPort, Service ports by port.
        return "containerPort" if len(path) >= 2 and path[-2] in ("containers", "initContainers") else "port"
    return _MERGE_KEYS.get(field)


def strategic_merge_patch(target: Any, patch: Any, *, patch_order: bool = True) -> Any:
    """Apply a strategic merge patch for the fields Kubernetes clients patch in practice.

    Maps merge recursively and `null` deletes a key; lists of containers, volumes, env, ports and the
    like merge by their merge key; `$patch: delete` / `$patch: replace` directives,
    `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` are honoured; `$retainKeys` is
    accepted and ignored; any other list is replaced, as lists without a patch strategy are.

    A merged list is ordered as the API server orders it: the patch's items in patch order (or in
    `$setElementOrder` order), with the items only the server has slotted in by their stored order, so a
    new item comes first. `patch_order=False` keeps the stored order and appends new items instead.
    """
    if not isinstance(patch, dict):
        raise errors.bad_request(_unmarshal_error(patch))
    return _smp_map(target if isinstance(target, dict) else {}, patch, (), patch_order)


def _smp_map(target: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...], po: bool) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise _unprocessable(f"unknown patch type: {directive!r} in map")
    orders = {
        k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/") and isinstance(v, list)
    }
    for key, value in patch.items():
        if key == "$patch" or key.startswith("$setElementOrder/") or key == "$retainKeys":
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(target.get(field), list) and isinstance(value, list):
                target[field] = [v for v in target[field] if v not in value]
            continue
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key, _MISSING)
        if isinstance(value, dict):
            base = current if isinstance(current, dict) else {}
            merged = _smp_map(base, value, (*path, key), po)
            if value.get("$patch") == "delete":
                target.pop(key, None)
            else:
                target[key] = merged
        elif isinstance(value, list):
            target[key] = _smp_list(current if isinstance(current, list) else [], value, path, key, po, orders.get(key))
        else:
            target[key] = copy.deepcopy(value)
    for field, order in orders.items():
        mk = _merge_key(path, field)
        if po and field not in patch and mk is not None and isinstance(target.get(field), list):
            stored = target[field]
            target[field] = _in_patch_order(stored, stored, [o.get(mk) for o in order if isinstance(o, dict)], mk)
    return target


def _smp_list(
    current: list[Any], patch: list[Any], path: tuple[str, ...], field: str, po: bool, order: list[Any] | None
) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    if field in _PRIMITIVE_MERGE and all(not isinstance(i, (dict, list)) for i in patch):
        out = list(current)
        out.extend(copy.deepcopy(i) for i in patch if i not in out)
        return out
    key = _merge_key(path, field)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)
    out = list(current)
    patched: list[Any] = []
    for item in patch:
        if key not in item:
            raise _unprocessable(f"map: {item} does not contain declared merge key: {key}")
        pos = next((i for i, cur in enumerate(out) if isinstance(cur, dict) and cur.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if pos is not None:
                out.pop(pos)
            continue
        patched.append(item[key])
        if pos is None:
            out.append(_smp_map({}, item, (*path, field, "*"), po))
        else:
            out[pos] = _smp_map(out[pos], item, (*path, field, "*"), po)
    if not po:
        return out
    if order is not None:
        patched = [o.get(key) for o in order if isinstance(o, dict)]
    return _in_patch_order(out, current, patched, key)


def _in_patch_order(merged: list[Any], stored: list[Any], patch_keys: list[Any], key: str) -> list[Any]:
    """Order a merged list as strategicpatch's normalizeElementOrder and mergeSortedSlice do.

    Items whose key the patch names come in the patch's order; each item only the server has is placed
    before the first patch item that comes after it in the stored list (a new item has no stored place,
    so server items never move ahead of it).
    """

    def key_of(item: Any) -> Any:
        return item.get(key) if isinstance(item, dict) else None

    wanted = list(dict.fromkeys(patch_keys))
    by_key = {key_of(i): i for i in merged}
    right = [by_key[k] for k in wanted if k in by_key]
    named = set(wanted)
    left = [i for i in merged if key_of(i) not in named]
    stored_at: dict[Any, int] = {}
    for n, item in enumerate(stored):
        stored_at.setdefault(key_of(item), n)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li, ri = stored_at.get(key_of(left[i])), stored_at.get(key_of(right[j]))
            if li is not None and ri is not None and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


# -- server-side apply --------------------------------------------------------------------------------


def parse_apply_body(body: bytes) -> dict[str, Any]:
    """Decode an apply body, which may be JSON or YAML; anything but one object is a 400."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            obj = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from None
    if not isinstance(obj, dict):
        raise errors.bad_request("apply patch must be a single object")
    return dict(obj)


def apply(current: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    """Merge an applied configuration into an existing object, like a strategic merge patch.

    This is a simplification of server-side apply: there is no managedFields ownership tracking, so a
    field the applier stops sending is never removed and no conflicts between managers are reported.
    Creating the object when it is missing is the caller's job (it needs the store).
    """
    merged: dict[str, Any] = strategic_merge_patch(current, applied, patch_order=False)
    return merged


def _unmarshal_error(value: Any) -> str:
    """Go's encoding/json error for a patch document that is not an object."""
    kind = {list: "array", str: "string", bool: "bool", int: "number", float: "number"}.get(type(value), "value")
    return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"


def apply_patch(content_type: str, current: dict[str, Any], body: bytes) -> dict[str, Any]:
    """Decode a PATCH body of the given content type and apply it to `current`."""
    if content_type == APPLY_PATCH:
        return apply(current, parse_apply_body(body))
    try:
        patch = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.bad_request("invalid JSON patch") from None
    if content_type == JSON_PATCH:
        result = json_patch(current, patch)
    elif content_type == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise errors.bad_request(f"error decoding patch: {_unmarshal_error(patch)}")
        result = merge_patch(current, patch)
    elif content_type == STRATEGIC_MERGE_PATCH:
        result = strategic_merge_patch(current, patch)
    else:
        raise errors.ApiError(415, "UnsupportedMediaType", f"the media type {content_type!r} is not supported")
    if not isinstance(result, dict):
        raise _unprocessable("the patch must produce an object")
    return result
