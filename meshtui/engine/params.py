"""Each action's parameters, typed: what the dashboard and the command line may ask a planner for.

Each class names its action (`ACTION`), so `EngineSession.plan(view, params)` needs nothing else to know
what to plan. `params_for` builds them from the loose mapping a surface collects (the dashboard's
choices), refusing a key the action does not take instead of ignoring it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from meshtui.domain.actions import ActionId
from meshtui.engine.installers import InstallerSpec
from meshtui.engine.planners.common import DEFAULT_BATCH

#: The components the ambient step upgrades, in order, when none are named.
AMBIENT_COMPONENTS = ("istio-cni", "ztunnel")


@dataclass(frozen=True, slots=True)
class StartParams:
    """Start: record the upgrade (the pair comes from the session)."""

    ACTION: ClassVar[ActionId] = ActionId.START


@dataclass(frozen=True, slots=True)
class DeployParams:
    """Deploy: how the target is installed (None: by other means, meshtui waits for it)."""

    ACTION: ClassVar[ActionId] = ActionId.DEPLOY
    installer: InstallerSpec | None = None


@dataclass(frozen=True, slots=True)
class SwitchParams:
    """Switch: the namespaces (`name` or `cluster/name`; None: every one that applies) and the label value."""

    ACTION: ClassVar[ActionId] = ActionId.SWITCH
    namespaces: tuple[str, ...] | None = None
    #: A revision or tag to label with; None: the target.
    to: str | None = None


@dataclass(frozen=True, slots=True)
class SwitchBackParams:
    """Switch back: the namespaces to restore for the source (None: every one that applies)."""

    ACTION: ClassVar[ActionId] = ActionId.SWITCH_BACK
    namespaces: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class MoveTagParams:
    """Move tag: the tag and the revision it should resolve to (None: the target)."""

    ACTION: ClassVar[ActionId] = ActionId.MOVE_TAG
    tag: str = ""
    to: str | None = None


@dataclass(frozen=True, slots=True)
class RestartParams:
    """Restart: the namespaces, the batches, and what to do with a recorded unfinished restart."""

    ACTION: ClassVar[ActionId] = ActionId.RESTART
    namespaces: tuple[str, ...] | None = None
    batch: int = DEFAULT_BATCH
    pause: float = 0.0
    #: Also restart workloads whose PodDisruptionBudget never allows a disruption.
    ignore_pdb: bool = False
    #: Resume the recorded unfinished restart (its workloads and timestamp; the rest is ignored).
    resume: bool = False
    #: Discard the recorded unfinished restart and plan these namespaces instead.
    discard: bool = False


@dataclass(frozen=True, slots=True)
class DeletePodsParams:
    """Delete pods: `namespace/name` (or `cluster/namespace/name`) of each pod."""

    ACTION: ClassVar[ActionId] = ActionId.DELETE_PODS
    pods: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GatewaysParams:
    """Gateways: the rendered manifests for istioctl gateways (a folder), and the batches of rollouts."""

    ACTION: ClassVar[ActionId] = ActionId.GATEWAYS
    manifests: str | None = None
    batch: int = DEFAULT_BATCH
    pause: float = 0.0


@dataclass(frozen=True, slots=True)
class GatewaysBackParams:
    """Gateways back: as `GatewaysParams`, towards the source."""

    ACTION: ClassVar[ActionId] = ActionId.GATEWAYS_BACK
    manifests: str | None = None
    batch: int = DEFAULT_BATCH
    pause: float = 0.0


@dataclass(frozen=True, slots=True)
class AmbientParams:
    """Ambient: the installer, the components in order, and the revision ztunnel is configured against."""

    ACTION: ClassVar[ActionId] = ActionId.AMBIENT
    installer: InstallerSpec | None = None
    components: tuple[str, ...] = AMBIENT_COMPONENTS
    #: The revision whose version is installed and whose istiod ztunnel talks to; None: the target.
    to: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyParams:
    """Verify: nothing to choose (the kept revision follows the record)."""

    ACTION: ClassVar[ActionId] = ActionId.VERIFY


@dataclass(frozen=True, slots=True)
class SkipVerifyParams:
    """Skip verify: the operator's reason, journalled."""

    ACTION: ClassVar[ActionId] = ActionId.SKIP_VERIFY
    reason: str = ""


@dataclass(frozen=True, slots=True)
class UpgradeParams:
    """Upgrade: the choice to keep the target."""

    ACTION: ClassVar[ActionId] = ActionId.UPGRADE


@dataclass(frozen=True, slots=True)
class RollbackParams:
    """Rollback: the choice to keep the source."""

    ACTION: ClassVar[ActionId] = ActionId.ROLLBACK


@dataclass(frozen=True, slots=True)
class FinishParams:
    """Finish: take the chosen revision offline (the choice comes from the record)."""

    ACTION: ClassVar[ActionId] = ActionId.FINISH


ActionParams = (
    StartParams
    | DeployParams
    | SwitchParams
    | SwitchBackParams
    | MoveTagParams
    | RestartParams
    | DeletePodsParams
    | GatewaysParams
    | GatewaysBackParams
    | AmbientParams
    | VerifyParams
    | SkipVerifyParams
    | UpgradeParams
    | RollbackParams
    | FinishParams
)

#: The parameters class of every action.
PARAMS: dict[ActionId, type[ActionParams]] = {
    cls.ACTION: cls
    for cls in (
        StartParams,
        DeployParams,
        SwitchParams,
        SwitchBackParams,
        MoveTagParams,
        RestartParams,
        DeletePodsParams,
        GatewaysParams,
        GatewaysBackParams,
        AmbientParams,
        VerifyParams,
        SkipVerifyParams,
        UpgradeParams,
        RollbackParams,
        FinishParams,
    )
}


#: The types a field with a default of that type accepts (a bool is an int to Python, never to a field).
_KIND: dict[type, type | tuple[type, ...]] = {bool: bool, int: int, float: (int, float), str: str, tuple: tuple}


class ParamsError(ValueError):
    """A mapping that does not describe the action's parameters (an unknown key, a wrong type)."""


def params_for(action: ActionId | str, values: Mapping[str, Any]) -> ActionParams:
    """The typed parameters of `action` from a mapping of field names (lists become tuples)."""
    try:
        cls = PARAMS[ActionId(action)]
    except ValueError:
        raise ParamsError(f"{action!r} is not an action") from None
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParamsError(f"{action} takes no parameter {', '.join(unknown)} (it takes: {', '.join(known) or 'none'})")
    typed: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list | tuple):
            value = tuple(str(v) for v in value)
        default = known[name].default
        expected = _KIND.get(type(default))
        wrong = expected is not None and (
            value is None or not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool)
        )
        if wrong:
            raise ParamsError(f"{action}: {name} must be {type(default).__name__}, not {type(value).__name__}")
        if isinstance(default, float) and isinstance(value, int):
            value = float(value)
        typed[name] = value
    return cls(**typed)
