"""What each action needs from RBAC, checked with SelfSubjectAccessReview before the action is offered.

Answers are cached for the session: RBAC rarely changes during an upgrade, and the dashboard asks for
every action's state many times a second. In read-only mode no review is sent at all: a review is a
POST, and read-only promises no write request of any kind (the actions are disabled anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meshtui.cluster import mutations
from meshtui.cluster.errors import ClusterError
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.actions import ActionId
from meshtui.engine.kube import retrying

ADMISSION = "admissionregistration.k8s.io"
RBAC = "rbac.authorization.k8s.io"


@dataclass(frozen=True, slots=True)
class Need:
    """One verb on one resource (in one namespace, or cluster-wide)."""

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None

    def text(self) -> str:
        """`patch namespaces`, `delete deployments.apps in istio-system`."""
        res = f"{self.resource}.{self.group}" if self.group else self.resource
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {res}{where}"


def _record(cp: str) -> list[Need]:
    return [Need("update", "configmaps", "", cp), Need("patch", "leases", "coordination.k8s.io", cp)]


def needs(action: ActionId, cp: str, *, record: bool = True) -> list[Need]:
    """The permissions an action needs, `cp` being the control-plane namespace (`record`: where it lives)."""
    workloads = [Need("patch", r, "apps") for r in ("deployments", "statefulsets", "daemonsets")]
    table: dict[ActionId, list[Need]] = {
        ActionId.START: [Need("create", "configmaps", "", cp), Need("create", "leases", "coordination.k8s.io", cp)],
        ActionId.DEPLOY: [
            Need(verb, res, group, ns)
            for verb in ("create", "patch")
            for res, group, ns in (
                ("deployments", "apps", cp),
                ("services", "", cp),
                ("configmaps", "", cp),
                ("serviceaccounts", "", cp),
                ("mutatingwebhookconfigurations", ADMISSION, None),
                ("validatingwebhookconfigurations", ADMISSION, None),
            )
        ],
        ActionId.SWITCH: [Need("patch", "namespaces")],
        ActionId.SWITCH_BACK: [Need("patch", "namespaces")],
        ActionId.MOVE_TAG: [
            Need("create", "mutatingwebhookconfigurations", ADMISSION),
            Need("update", "mutatingwebhookconfigurations", ADMISSION),
        ],
        ActionId.RESTART: workloads,
        ActionId.DELETE_PODS: [Need("delete", "pods")],
        ActionId.GATEWAYS: [
            Need("patch", "deployments", "apps"),
            Need("patch", "gateways", "gateway.networking.k8s.io"),
        ],
        ActionId.GATEWAYS_BACK: [
            Need("patch", "deployments", "apps"),
            Need("patch", "gateways", "gateway.networking.k8s.io"),
        ],
        ActionId.AMBIENT: [Need("patch", "daemonsets", "apps", cp)],
        ActionId.VERIFY: [],
        ActionId.UPGRADE: [],
        ActionId.ROLLBACK: [],
        ActionId.FINISH: [
            *(
                Need("delete", res, group, cp)
                for res, group in (
                    ("deployments", "apps"),
                    ("services", ""),
                    ("configmaps", ""),
                    ("serviceaccounts", ""),
                    ("poddisruptionbudgets", "policy"),
                    ("roles", RBAC),
                    ("rolebindings", RBAC),
                )
            ),
            *(
                Need("delete", res, group)
                for res, group in (
                    ("mutatingwebhookconfigurations", ADMISSION),
                    ("validatingwebhookconfigurations", ADMISSION),
                    ("clusterroles", RBAC),
                    ("clusterrolebindings", RBAC),
                )
            ),
        ],
    }
    found = table.get(action, [])
    if record and action not in (ActionId.START, ActionId.VERIFY):
        found = found + _record(cp)
    return found


class PermissionCache:
    """SelfSubjectAccessReview answers per cluster, asked once per session."""

    def __init__(self, apis: dict[str, RawApi], *, enabled: bool = True):
        self.apis = apis
        self.enabled = enabled
        self._answers: dict[tuple[str, Need], tuple[bool, str]] = {}
        self.reviews = 0

    def allowed(self, cluster: str, need: Need) -> tuple[bool, str]:
        """(allowed, reason); a review that cannot be made counts as allowed (the write will tell)."""
        key = (cluster, need)
        if key not in self._answers:
            api = self.apis[cluster]
            try:
                self._answers[key] = retrying(
                    lambda: mutations.can_i(api, need.verb, need.resource, need.group, need.namespace)
                )
                self.reviews += 1
            except ClusterError:
                self._answers[key] = (True, "")
        return self._answers[key]

    def missing(self, action: ActionId, cp_namespaces: dict[str, str]) -> tuple[str, ...]:
        """Every permission the action lacks, as `cluster c: verb resource` (no cluster name with one)."""
        if not self.enabled:
            return ()
        out: list[str] = []
        multi = len(self.apis) > 1
        for i, cluster in enumerate(self.apis):
            for need in needs(action, cp_namespaces.get(cluster, "istio-system"), record=i == 0):
                ok, _ = self.allowed(cluster, need)
                if not ok:
                    out.append(f"cluster {cluster}: {need.text()}" if multi else need.text())
        return tuple(dict.fromkeys(out))

    def all_missing(
        self, actions: Sequence[ActionId], cp_namespaces: dict[str, str]
    ) -> dict[ActionId, tuple[str, ...]]:
        """`missing` for several actions."""
        return {a: self.missing(a, cp_namespaces) for a in actions}
