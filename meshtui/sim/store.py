"""The simulator's object store: one resourceVersion sequence, watch history, watchers and list snapshots.

Objects are kept serialized (orjson bytes) with a small index of labels and phase: a list is a join of
bytes, every read decodes a private copy (no aliasing between callers), and 50,000 pods stay small.
All methods run on the simulator's event loop thread; nothing here is thread-safe by itself.
"""

from __future__ import annotations

import base64
import bisect
import copy
import itertools
import re
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from meshtui.domain.selectors import DNS1123_SUBDOMAIN, DNS1123_SUBDOMAIN_ERROR, LabelSelector
from meshtui.sim import errors
from meshtui.sim.resources import BY_KEY, ZERO_FIELDS, Resource, qos_class

Key = tuple[str, str]  # (namespace or "", name)
Obj = dict[str, Any]

#: Called with (resource, operation, new object, old object or None, dry_run) before a write is stored;
#: returns the object to store (possibly mutated) or raises ApiError (admission).
AdmissionHook = Callable[[Resource, str, Obj, "Obj | None", bool], Obj]
#: Called after a write is stored, with (event type, resource, new or deleted object, old object or None).
Listener = Callable[[str, Resource, Obj, "Obj | None"], None]


def now_rfc3339() -> str:
    """The current UTC time the way Kubernetes writes timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Entry:
    """One stored object: its bytes plus the index fields selectors need."""

    __slots__ = ("labels", "name", "namespace", "phase", "raw", "rv", "uid")

    def __init__(self, raw: bytes, obj: Obj):
        meta = obj["metadata"]
        self.raw = raw
        self.namespace: str = meta.get("namespace") or ""
        self.name: str = meta["name"]
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.phase: str | None = (obj.get("status") or {}).get("phase")
        self.rv: int = int(meta["resourceVersion"])
        self.uid: str = meta.get("uid", "")

    def obj(self) -> Obj:
        """A private, decoded copy of the object."""
        result: Obj = orjson.loads(self.raw)
        return result


@dataclass(slots=True)
class Event:
    """One committed change, as kept in the watch history."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: str
    entry: Entry
    old: Entry | None
    _left: Entry | None = None  # the old state at this rv, built once for watches the object leaves

    def left_entry(self) -> Entry:
        """The DELETED object for a watch this change moves the object out of: the last state that
        matched (the old one), with the resourceVersion of the change, as the watch cache sends it."""
        if self._left is None:
            assert self.old is not None
            obj = self.old.obj()
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._left = Entry(_dump(obj), obj)
        return self._left


#: Field selectors beyond metadata.name/namespace, per store key, as the API server registers them.
_EXTRA_FIELDS: dict[str, frozenset[str]] = {
    "pods": frozenset(
        {
            "status.phase",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "events": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    "namespaces": frozenset({"status.phase"}),
    "secrets": frozenset({"type"}),
    "services": frozenset({"spec.clusterIP", "spec.type"}),
    "nodes": frozenset({"spec.unschedulable"}),
    "batch/jobs": frozenset({"status.successful"}),
}
#: How a kind with its own field label conversion words an unknown field (others use the generic wording).
_FIELD_LABEL_ERRORS: dict[str, str] = {
    **dict.fromkeys(("pods", "events", "namespaces", "secrets", "services", "nodes"), "field label not supported: {f}"),
    "batch/jobs": 'field label "{f}" not supported for Job',
}
#: What a field selector compares when the field is absent (Go formats the zero value of the field).
_FIELD_ZERO = {"spec.hostNetwork": "false", "spec.unschedulable": "false", "status.successful": "0"}
_FIELD_OPERATORS = ("!=", "==", "=")


def _split_terms(text: str) -> list[str]:
    """Split a field selector on commas that are not escaped with a backslash (fields.splitTerms)."""
    terms, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == ",":
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return terms


def _unescape_value(value: str) -> str:
    """fields.UnescapeValue: `\\`, `\\,` and `\\=` are escapes; a bare `,` or `=` is an error."""
    out, escaped = [], False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise errors.bad_request("invalid field selector: invalid escape sequence")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise errors.bad_request(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise errors.bad_request("invalid field selector: invalid escape sequence")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A parsed field selector: exact (or negated) matches on a few well-known fields."""

    terms: tuple[tuple[str, bool, str], ...] = ()  # (field, equals?, value)

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        """Parse `a=b,c!=d` as fields.ParseSelector does (the first operator found splits a term)."""
        if not text:
            return cls()
        terms = []
        for term in _split_terms(text):
            if not term:
                continue
            split = next(
                (
                    (term[:i], op, term[i + len(op) :])
                    for i in range(len(term))
                    for op in _FIELD_OPERATORS
                    if term.startswith(op, i)
                ),
                None,
            )
            if split is None:
                raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
            f, op, v = split
            terms.append((f, op != "!=", _unescape_value(v)))
        return cls(tuple(terms))

    def check(self, res: Resource) -> None:
        """Reject fields the resource does not support, with the API server's wording."""
        allowed = {"metadata.name", "metadata.namespace"} | _EXTRA_FIELDS.get(res.key, frozenset())
        for f, _, _ in self.terms:
            if f not in allowed:
                wording = _FIELD_LABEL_ERRORS.get(
                    res.key, '"{f}" is not a known field selector: only "metadata.name", "metadata.namespace"'
                )
                raise errors.bad_request(wording.format(f=f))

    def matches(self, entry: Entry) -> bool:
        """True when the entry satisfies every term."""
        for f, eq, v in self.terms:
            if f == "metadata.name":
                actual: str | None = entry.name
            elif f == "metadata.namespace":
                actual = entry.namespace
            elif f == "status.phase":
                actual = entry.phase or ""
            else:
                # Rarer fields (spec.nodeName, events' involvedObject.*) decode the object.
                node: Any = entry.obj()
                for part in ("source.component" if f == "source" else f).split("."):
                    node = node.get(part) if isinstance(node, dict) else None
                if node is None:
                    actual = _FIELD_ZERO.get(f, "")
                elif isinstance(node, bool):
                    actual = "true" if node else "false"
                else:
                    actual = str(node)
            if (actual == v) != eq:
                return False
        return True


# -- object names, as ValidateObjectMeta checks them --------------------------------------------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_LABEL_ERROR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


#: (store key, entry) pairs; named outside Store, whose `list` method shadows the builtin in its annotations.
OwnedEntries = list[tuple[str, Entry]]


@dataclass(eq=False)
class Watcher:
    """One open watch: its filter and a queue of events the HTTP layer drains."""

    resource: str
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    queue: deque[tuple[str, Entry]] = field(default_factory=deque)
    closed: bool = False
    wake: Callable[[], None] = lambda: None
    max_backlog: int = 200_000
    start_rv: int = 0  # the resourceVersion the watch started from: bookmarks only report progress past it

    def selects(self, entry: Entry | None) -> bool:
        """True when an entry exists and passes this watch's filters."""
        if entry is None:
            return False
        if self.namespace is not None and entry.namespace != self.namespace:
            return False
        return self.labels.matches(entry.labels) and self.fields.matches(entry)

    def offer(self, ev: Event) -> None:
        """Queue an event, translated for filtered watches as the watch cache does.

        Events at or before the watch's starting version are not sent: a watch from a version the server
        has not reached yet (its storage went back in time) stays silent until the server passes it.
        """
        if self.closed or ev.resource != self.resource or ev.rv <= self.start_rv:
            return
        new_ok = self.selects(ev.entry) if ev.type != "DELETED" else False
        old_ok = self.selects(ev.old) if ev.type == "MODIFIED" else False
        if ev.type == "DELETED":
            if self.selects(ev.entry):
                self._push("DELETED", ev.entry)
        elif ev.type == "ADDED":
            if new_ok:
                self._push("ADDED", ev.entry)
        elif new_ok and old_ok:
            self._push("MODIFIED", ev.entry)
        elif new_ok:
            self._push("ADDED", ev.entry)
        elif old_ok:
            self._push("DELETED", ev.left_entry())

    def _push(self, kind: str, entry: Entry) -> None:
        if len(self.queue) >= self.max_backlog:
            # A watcher that cannot keep up is terminated, as the API server does; the client relists.
            self.close()
            return
        self.queue.append((kind, entry))
        self.wake()

    def close(self) -> None:
        """Mark closed and wake the reader so it ends the stream."""
        self.closed = True
        self.wake()


# Aliases: inside Store, `list` names the method, so annotations there cannot say list[...].
_Items = list[tuple[Key, Entry]]
_Entries = list[Entry]
_Keys = list[Key]


@dataclass(slots=True)
class _Snapshot:
    rv: int
    items: list[Entry]  # entries only: 50,000 new tuples per list would load the garbage collector


class Store:
    """All objects of the simulated cluster, with the API server's versioning and watch semantics."""

    def __init__(self, history_window: int = 100_000, snapshot_cache: int = 64):
        self.rv = 0
        self.history_window = history_window
        self._objects: dict[str, dict[Key, Entry]] = {key: {} for key in BY_KEY}
        self._sorted: dict[str, list[Key] | None] = {key: None for key in BY_KEY}
        self._history: deque[Event] = deque()
        self._history_floor = 0  # the oldest resourceVersion a watch may resume from
        self._watchers: set[Watcher] = set()
        self._listeners: list[Listener] = []
        # owner uid -> {(store key, (namespace, name))}: garbage collection finds dependents without a scan.
        self._owned: dict[str, set[tuple[str, Key]]] = {}
        self.admission: list[AdmissionHook] = []
        self._snapshots: OrderedDict[str, _Snapshot] = OrderedDict()
        self._snapshot_cache = snapshot_cache
        self._snapshot_ids = itertools.count(1)
        #: Requests the HTTP server is answering now (watches aside): the controllers work in smaller
        #: slices while any is, so a resync never holds a client up for long.
        self.requests_in_flight = 0

    # -- wiring ---------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Register a callback run after every committed change (controllers use it)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Unregister a callback added with add_listener (missing ones are ignored)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def entry(self, key: str, namespace: str | None, name: str) -> Entry | None:
        """The stored entry of one object (labels and phase readable without decoding), or None."""
        return self._objects[key].get((namespace or "", name))

    def count(self, key: str) -> int:
        """How many objects of a kind exist."""
        return len(self._objects[key])

    # -- reads ----------------------------------------------------------------------------------------

    def get(self, key: str, namespace: str | None, name: str) -> Obj | None:
        """A private copy of one object, or None."""
        entry = self._objects[key].get((namespace or "", name))
        return entry.obj() if entry else None

    def require(self, key: str, namespace: str | None, name: str) -> Obj:
        """Like get, but a missing object raises the API server's 404."""
        obj = self.get(key, namespace, name)
        if obj is None:
            res = BY_KEY[key]
            raise errors.not_found(res.plural, name, res.group)
        return obj

    def entries(self, key: str, namespace: str | None = None) -> Iterator[Entry]:
        """Stored entries of a kind, optionally in one namespace (unordered)."""
        for entry in self._objects[key].values():
            if namespace is None or entry.namespace == namespace:
                yield entry

    def list(
        self,
        key: str,
        namespace: str | None = None,
        label_selector: LabelSelector | str | None = None,
        field_selector: FieldSelector | str | None = None,
    ) -> list[Obj]:
        """Decoded copies of the matching objects, in key order."""
        labels = _label_sel(label_selector)
        fields = _field_sel(field_selector)
        out = []
        for k in self._keys(key):
            entry = self._objects[key][k]
            if namespace is not None and entry.namespace != namespace:
                continue
            if labels.matches(entry.labels) and fields.matches(entry):
                out.append(entry.obj())
        return out

    def list_page(
        self,
        key: str,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        limit: int | None,
        continue_token: str | None,
        at_rv: int | None = None,
    ) -> tuple[int, _Entries, str | None, int]:
        """One page of a consistent list: (list RV, entries, continue token or None, remaining count).

        The first page snapshots the kind's entries (immutable, so copying references is enough);
        later pages read the same snapshot, so a paginated list is consistent like an etcd read at one
        revision. A token whose snapshot is gone answers 410, as an expired continue token does.
        `at_rv` lists the state at an older resourceVersion (resourceVersionMatch=Exact), rebuilt from
        the watch history; one older than the history answers 410.
        """
        if continue_token:
            tok = _decode_continue(continue_token)
            snap = self._snapshots.get(tok.snap) if tok.snap else None
            if tok.rv >= 0 and (snap is None or snap.rv < self._history_floor):
                # As an etcd compaction does: the consistent read is gone, and the 410 offers a token
                # that carries on from the same key in the current state.
                raise errors.gone(
                    _CONTINUE_EXPIRED, metadata={"continue": _encode_continue("", 0, -1, tok.last, namespace)}
                )
            if snap is not None:
                self._snapshots.move_to_end(tok.snap)
                snap_id, start = tok.snap, tok.index
            else:
                # An inconsistent continuation (rv -1): the current state after the last key read.
                snap = self._current(key, namespace)
                snap_id = ""
                start = bisect.bisect_right(snap.items, tok.last, key=lambda e: (e.namespace, e.name))
        else:
            if at_rv is not None and at_rv != self.rv:
                items = self._items_at(key, at_rv)
                snap = _Snapshot(at_rv, [e for k, e in items if namespace is None or k[0] == namespace])
            else:
                snap = self._current(key, namespace)
            snap_id = ""
            start = 0
        selected: list[Entry] = []
        i = start
        n = len(snap.items)
        while i < n and (limit is None or len(selected) < limit):
            entry = snap.items[i]
            i += 1
            if namespace is not None and entry.namespace != namespace:
                continue
            if labels.matches(entry.labels) and fields.matches(entry):
                selected.append(entry)
        token = None
        remaining = 0
        if limit is not None and i < n:
            if not snap_id:
                snap_id = str(next(self._snapshot_ids))
                self._snapshots[snap_id] = snap
                while len(self._snapshots) > self._snapshot_cache:
                    self._snapshots.popitem(last=False)
            last = snap.items[i - 1]
            token = _encode_continue(snap_id, i, snap.rv, (last.namespace, last.name), namespace)
            remaining = n - i
        return snap.rv, selected, token, remaining

    def _current(self, key: str, namespace: str | None) -> _Snapshot:
        """A snapshot of the kind's entries now (of one namespace, or all)."""
        keys = self._keys(key)
        if namespace is not None:
            # Keys sort by (namespace, name): one namespace is a contiguous slice.
            lo = bisect.bisect_left(keys, (namespace,))
            keys = keys[lo : bisect.bisect_left(keys, (namespace + "\0",), lo)]
        table = self._objects[key]
        return _Snapshot(self.rv, [table[k] for k in keys])

    def _items_at(self, key: str, rv: int) -> _Items:
        """The kind's entries as they were at `rv`, by undoing the later events of the history."""
        if rv < self._history_floor:
            raise errors.gone("The resourceVersion for the provided list is too old.")
        table = dict(self._objects[key])
        for ev in reversed(list(self._events_after(rv))):
            if ev.resource != key:
                continue
            k = (ev.entry.namespace, ev.entry.name)
            if ev.old is None:
                table.pop(k, None)
            else:
                table[k] = ev.old
        return sorted(table.items())

    def _keys(self, key: str) -> _Keys:
        keys = self._sorted[key]
        if keys is None:
            keys = sorted(self._objects[key])
            self._sorted[key] = keys
        return keys

    # -- writes ---------------------------------------------------------------------------------------

    def create(
        self,
        key: str,
        obj: Obj,
        *,
        dry_run: bool = False,
        admit: bool = True,
        copy: bool = True,
        server_status: bool = False,
    ) -> Obj:
        """Create an object (generateName, uid, timestamps, admission), returning what was stored.

        `copy=False` (bulk loads) hands `obj` over to the store and returns that same dict, not a copy:
        the caller must not touch it afterwards. It saves two JSON round trips an object.
        `server_status` (creates through the HTTP API) replaces any status the client sent with the one
        the API server writes: a Pending pod with its QoS class, zeros for a PodDisruptionBudget, the
        kind's empty status otherwise. Simulator code (scenarios, controllers) may create with a status.
        """
        res = BY_KEY[key]
        if copy:
            obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if res.namespaced:
            ns = meta.get("namespace")
            if not ns:
                raise errors.bad_request("the namespace of the object must be set")
            if res.plural != "namespaces" and (("", ns) not in self._objects["namespaces"]):
                raise errors.not_found("namespaces", ns)
            nsobj = self._objects["namespaces"].get(("", ns))
            if nsobj is not None and nsobj.phase == "Terminating":
                raise errors.ApiError(
                    403,
                    "Forbidden",
                    f'{res.plural} "{meta.get("name") or meta.get("generateName", "")}" is forbidden: '
                    f"unable to create new content in namespace {ns} because it is being terminated",
                )
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise errors.invalid(
                    res.kind, "", "metadata.name: Required value: name or generateName is required", group=res.group
                )
            meta["name"] = prefix + uuid.uuid4().hex[:5]
        name = meta["name"]
        _validate_name(res, name)
        _validate_webhooks(res, obj)
        if (meta.get("namespace") or "", name) in self._objects[key]:
            raise errors.already_exists(res.plural, name, res.group)
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta.pop("resourceVersion", None)
        meta.pop("deletionTimestamp", None)
        if res.tracks_generation or key == "pods":
            meta["generation"] = 1
        if res.plural == "namespaces":
            labels = meta.setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = name
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        if admit:
            for hook in self.admission:
                obj = hook(res, "CREATE", obj, None, dry_run)
        if server_status:
            _server_status(res, obj)
        if dry_run:
            obj["metadata"].pop("resourceVersion", None)  # nothing was written: a dry-run create has none
            return obj
        return self._commit("ADDED", res, obj, None, copy_out=copy)

    def replace(self, key: str, obj: Obj, *, dry_run: bool = False, subresource: str | None = None) -> Obj:
        """PUT semantics: a stale resourceVersion is a 409; status is kept unless writing `/status`."""
        res = BY_KEY[key]
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") if res.namespaced else None
        name = meta.get("name")
        if not name:
            raise errors.bad_request("the name of the object must be set")
        old = self.require(key, ns, name)
        given = meta.get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res.plural, name, res.group)
        return self._update(res, old, clone(obj), dry_run=dry_run, subresource=subresource)

    def update(
        self,
        key: str,
        namespace: str | None,
        name: str,
        fn: Callable[[Obj], Obj | None],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        admit: bool = True,
    ) -> Obj:
        """Read-modify-write without a version check (the store is single-threaded), for patches and controllers."""
        res = BY_KEY[key]
        old = self.require(key, namespace, name)
        new = fn(clone(old))
        if new is None:
            return old
        return self._update(res, old, new, dry_run=dry_run, subresource=subresource, admit=admit)

    def _update(
        self, res: Resource, old: Obj, new: Obj, *, dry_run: bool, subresource: str | None, admit: bool = True
    ) -> Obj:
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        # Identity and server-owned fields cannot be changed by a client.
        for f in (
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        new["apiVersion"] = res.api_version
        new["kind"] = res.kind
        if res.has_status:
            if subresource == "status":
                # The status strategies keep spec (and owner references) from the stored object but take
                # labels, annotations and finalizers from the request; a Deployment keeps its labels too,
                # a custom resource all of its metadata.
                sent = meta
                new = {**old, "status": new.get("status", {})}
                new["metadata"] = meta = clone(old_meta)
                for f in _STATUS_WRITES_METADATA.get(res.key, ("labels", "annotations", "finalizers")):
                    if f in sent:
                        meta[f] = sent[f]
                    else:
                        meta.pop(f, None)
                old_qos = (old.get("status") or {}).get("qosClass")
                if res.key == "pods" and old_qos and isinstance(new["status"], dict):
                    new["status"] = {**new["status"], "qosClass": new["status"].get("qosClass") or old_qos}
            elif "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if res.plural == "namespaces":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = old_meta["name"]
        if res.tracks_generation and _spec(new) != _spec(old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if subresource is None:
            _validate_webhooks(res, new)
        if admit and subresource is None:
            for hook in self.admission:
                new = hook(res, "UPDATE", new, old, dry_run)
        if _same(new, old):
            return old  # a no-op write does not bump the resourceVersion, as the API server does
        if dry_run:
            return new
        if _finalized(res, meta):
            # The last finalizer of an object being deleted went: the API server removes it now, and the
            # garbage collector its dependents.
            from meshtui.sim.deletion import collect_dependents

            removed = self._commit("DELETED", res, new, old)
            collect_dependents(self, str(meta.get("uid") or ""))
            return removed
        return self._commit("MODIFIED", res, new, old)

    def remove(self, key: str, namespace: str | None, name: str) -> Obj:
        """Delete an object now, with no grace period and no garbage collection (callers add those)."""
        res = BY_KEY[key]
        k = (namespace or "", name)
        entry = self._objects[key].get(k)
        if entry is None:
            raise errors.not_found(res.plural, name, res.group)
        obj = entry.obj()
        return self._commit("DELETED", res, obj, obj)

    def mark_deleting(self, key: str, namespace: str | None, name: str, grace_seconds: int) -> Obj:
        """Set deletionTimestamp (the object goes Terminating); a controller removes it later."""

        def mark(obj: Obj) -> Obj:
            meta = obj["metadata"]
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = grace_seconds
            if key == "namespaces":
                obj["status"] = {"phase": "Terminating"}
            return obj

        res = BY_KEY[key]
        old = self.require(key, namespace, name)
        if old["metadata"].get("deletionTimestamp"):
            return old
        new = mark(clone(old))
        return self._commit("MODIFIED", res, new, old)

    def mark_finalizing(
        self, key: str, namespace: str | None, name: str, finalizers: Iterable[str], *, dry_run: bool = False
    ) -> Obj:
        """DELETE of an object with finalizers (or deleted in the foreground): it stays, with a
        deletionTimestamp, until every finalizer is removed (see `_update`); returns it, as the API server
        does. The first such DELETE bumps the generation of kinds that have one."""
        res = BY_KEY[key]
        old = self.require(key, namespace, name)
        new = clone(old)
        meta = new["metadata"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0
            if meta.get("generation"):
                meta["generation"] = int(meta["generation"]) + 1
        meta["finalizers"] = list(finalizers)
        if _same(new, old) or dry_run:
            return old if _same(new, old) else new
        return self._commit("MODIFIED", res, new, old)

    def dependents(self, owner_uid: str) -> OwnedEntries:
        """Objects whose ownerReferences name this uid (for garbage collection), from an owner index."""
        out = []
        for key, k in sorted(self._owned.get(owner_uid, ())):
            entry = self._objects[key].get(k)
            if entry is not None:
                out.append((key, entry))
        return out

    def _index_owners(self, key: str, k: Key, obj: Obj | None, old_obj: Obj | None) -> None:
        new_uids = _owner_uids(obj)
        old_uids = _owner_uids(old_obj)
        if new_uids == old_uids:
            return
        for uid in old_uids - new_uids:
            owned = self._owned.get(uid)
            if owned is not None:
                owned.discard((key, k))
                if not owned:
                    del self._owned[uid]
        for uid in new_uids - old_uids:
            self._owned.setdefault(uid, set()).add((key, k))

    def _commit(self, kind: str, res: Resource, obj: Obj, old_obj: Obj | None, *, copy_out: bool = True) -> Obj:
        table = self._objects[res.key]
        k = (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
        old_entry = table.get(k)
        self.rv += 1
        _lead_with_kind(res, obj)
        if kind == "DELETED":
            obj["metadata"]["resourceVersion"] = str(self.rv)
            entry = Entry(_dump(obj), obj)
            del table[k]
            self._sorted[res.key] = None
            self._index_owners(res.key, k, None, obj)
        else:
            self._index_owners(res.key, k, obj, old_obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            entry = Entry(_dump(obj), obj)
            if k not in table:
                self._sorted[res.key] = None
            table[k] = entry
        ev = Event(self.rv, kind, res.key, entry, old_entry)
        self._history.append(ev)
        while len(self._history) > self.history_window:
            dropped = self._history.popleft()
            self._history_floor = dropped.rv
        for w in list(self._watchers):
            w.offer(ev)
        for listener in self._listeners:
            listener(kind, res, obj, old_obj)
        return entry.obj() if copy_out else obj

    # -- watches --------------------------------------------------------------------------------------

    def watch(
        self,
        key: str,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        resource_version: str | None,
    ) -> Watcher:
        """Open a watch; from a resourceVersion it replays history, without one it starts with ADDED events.

        A resourceVersion older than the retained history raises 410 Expired, as the API server does
        once etcd has compacted past it.
        """
        w = Watcher(key, namespace, labels, fields, start_rv=self.rv)
        if not resource_version or resource_version == "0":
            for k in self._keys(key):
                entry = self._objects[key][k]
                if w.selects(entry):
                    w.queue.append(("ADDED", entry))
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise errors.bad_request(f"invalid resource version: {resource_version!r}") from None
            if since < self._history_floor:
                raise errors.gone("The resourceVersion for the provided watch is too old.")
            w.start_rv = since
            for ev in self._events_after(since):
                w.offer(ev)
        self._watchers.add(w)
        return w

    def _events_after(self, since: int) -> Iterable[Event]:
        if not self._history or self._history[-1].rv <= since:
            return ()
        # History is ordered by rv; skip the prefix cheaply from the left.
        start = max(0, len(self._history) - (self._history[-1].rv - since))
        return itertools.islice(self._history, start, None)

    def stop_watch(self, w: Watcher) -> None:
        """Forget a watcher (its stream ended)."""
        w.closed = True
        self._watchers.discard(w)

    def close_all_watches(self) -> int:
        """Terminate every open watch (the fault "drop watch connections"); returns how many."""
        n = len(self._watchers)
        for w in list(self._watchers):
            w.close()
        self._watchers.clear()
        return n

    def expire_list_snapshots(self) -> None:
        """Drop the snapshots paginated lists read from: their continue tokens answer 410 from now on."""
        self._snapshots.clear()

    def forget_history(self) -> None:
        """Lose the watch history, as a restarted API server does: clients must relist."""
        self._history.clear()
        self._history_floor = self.rv
        self._snapshots.clear()
        self.close_all_watches()

    @property
    def open_watches(self) -> int:
        """How many watches are registered (tests check that closed streams unregister)."""
        return len(self._watchers)

    @property
    def history_floor(self) -> int:
        """The oldest resourceVersion a watch can resume from."""
        return self._history_floor


#: Metadata a write to the status subresource may change, where it is not labels/annotations/finalizers.
_STATUS_WRITES_METADATA: dict[str, tuple[str, ...]] = {
    "apps/deployments": ("annotations", "finalizers"),
    "gateway.networking.k8s.io/gateways": (),
}


def _server_status(res: Resource, obj: Obj) -> None:
    """The status the API server writes on create (PrepareForCreate), after admission as there."""
    if not res.has_status or res.key in ("nodes", "namespaces"):
        return  # a node keeps the status it is created with; a namespace is Active already
    if res.key == "pods":
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}
    elif "status" in ZERO_FIELDS.get(res.key, {}):
        obj["status"] = clone(ZERO_FIELDS[res.key]["status"])
    else:
        obj.pop("status", None)  # a custom resource drops status on create


def _lead_with_kind(res: Resource, obj: Obj) -> None:
    """Put `kind` and `apiVersion` first, in place, as the API server serializes objects.

    Stored bytes then start with a known prefix, which a list strips from each item without decoding.
    """
    keys = iter(obj)
    if next(keys, None) == "kind" and next(keys, None) == "apiVersion":
        return
    rest = [(k, v) for k, v in obj.items() if k not in ("kind", "apiVersion")]
    obj.clear()
    obj["kind"] = res.kind
    obj["apiVersion"] = res.api_version
    obj.update(rest)


def item_prefix(res: Resource) -> bytes:
    """The bytes every stored object of a kind starts with (see `_lead_with_kind`)."""
    return b'{"kind":' + orjson.dumps(res.kind) + b',"apiVersion":' + orjson.dumps(res.api_version) + b","


def _dump(obj: Obj) -> bytes:
    """Serialize for storage; orjson returns bytes with up to 5x spare capacity, the copy drops it."""
    return bytes(memoryview(orjson.dumps(obj)))


def clone(obj: Any) -> Any:
    """A deep copy of a JSON-shaped object (an orjson round trip: ten times faster than deepcopy)."""
    try:
        return orjson.loads(orjson.dumps(obj))
    except TypeError:
        return copy.deepcopy(obj)


def _owner_uids(obj: Obj | None) -> frozenset[str]:
    if not obj:
        return frozenset()
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return frozenset(r["uid"] for r in refs if isinstance(r, dict) and r.get("uid"))


def _spec(obj: Obj) -> Any:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _same(a: Obj, b: Obj) -> bool:
    strip = ("resourceVersion", "managedFields")
    am = {k: v for k, v in a.get("metadata", {}).items() if k not in strip}
    bm = {k: v for k, v in b.get("metadata", {}).items() if k not in strip}
    return am == bm and _spec(a) == _spec(b) and a.get("status") == b.get("status")


def _label_sel(sel: LabelSelector | str | None) -> LabelSelector:
    if isinstance(sel, LabelSelector):
        return sel
    return LabelSelector.parse(sel)


def _field_sel(sel: FieldSelector | str | None) -> FieldSelector:
    if isinstance(sel, FieldSelector):
        return sel
    return FieldSelector.parse(sel)


_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True, slots=True)
class _Continue:
    snap: str  # the snapshot a consistent continuation reads ("" for an inconsistent one)
    index: int  # where the next page starts in that snapshot
    rv: int  # the snapshot's resourceVersion; -1 continues in the current state
    last: Key  # the last key read, for an inconsistent continuation


def _encode_continue(snap_id: str, index: int, rv: int, last: Key, namespace: str | None) -> str:
    """An opaque continue token; `start` is the key the next page starts after, as the API server's is."""
    start = f"{last[0]}/{last[1]}" if last[0] and namespace is None else last[1]
    raw = orjson.dumps(
        {"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\0", "snap": snap_id, "i": index, "last": list(last)}
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> _Continue:
    try:
        pad = "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(token + pad))
        ns, name = data["last"]
        return _Continue(str(data["snap"]), int(data["i"]), int(data["rv"]), (str(ns), str(name)))
    except Exception:
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion") from None


_DNS1123_LABEL_MAX = 63
_DNS1123_SUBDOMAIN_MAX = 253


def _validate_name(res: Resource, name: str) -> None:
    """metadata.name as ValidateObjectMeta checks it: a DNS-1123 label for namespaces and services, else a
    subdomain; worded, qualified and detailed as the API server's 422."""
    label = res.plural in ("namespaces", "services")
    limit = _DNS1123_LABEL_MAX if label else _DNS1123_SUBDOMAIN_MAX
    problems = []
    if len(name) > limit:
        problems.append(f"must be no more than {limit} characters")
    if res.plural == "services" and "." in name:
        problems.append("must not contain dots")
    elif not (_DNS1123_LABEL if label else DNS1123_SUBDOMAIN).fullmatch(name):
        problems.append(DNS1123_LABEL_ERROR if label else DNS1123_SUBDOMAIN_ERROR)
    if problems:
        raise errors.invalid(
            res.kind, name, [f'metadata.name: Invalid value: "{name}": {p}' for p in problems], group=res.group
        )


_WEBHOOK_CONFIGURATIONS = frozenset({"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})


def _validate_webhooks(res: Resource, obj: Obj) -> None:
    """A webhook configuration's webhooks each call exactly one of a URL or a Service (422 otherwise),
    as the admissionregistration validation checks on create and update."""
    if res.kind not in _WEBHOOK_CONFIGURATIONS or res.group != "admissionregistration.k8s.io":
        return
    problems = []
    for i, hook in enumerate(obj.get("webhooks") or []):
        client = (hook.get("clientConfig") or {}) if isinstance(hook, dict) else {}
        if (client.get("url") is None) == (client.get("service") is None):
            problems.append(f"webhooks[{i}].clientConfig: Required value: exactly one of url or service is required")
    if problems:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise errors.invalid(res.kind, name, problems, group=res.group)


def _finalized(res: Resource, meta: dict[str, Any]) -> bool:
    """A written object that is being deleted, has no finalizer left and no grace period to wait for.

    Pods (the kubelet removes them after their grace period) and namespaces (their own finalizers, in
    `spec`) are left to their controllers.
    """
    return (
        res.plural not in ("pods", "namespaces")
        and bool(meta.get("deletionTimestamp"))
        and not meta.get("finalizers")
        and not meta.get("deletionGracePeriodSeconds")
    )
