"""`meshtui upgrade deploy` and `ambient`: install the target control plane, or upgrade istio-cni and ztunnel,
with the installer the flags name."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING

from meshtui.cli.upgrade_run import Run, apply_plan, plan_or_refuse

if TYPE_CHECKING:
    from meshtui.engine.installers import InstallerSpec


def step_deploy(ctx: Run) -> int:
    """Deploy the target revision."""
    from meshtui.engine.params import DeployParams

    return apply_plan(ctx, plan_or_refuse(ctx, DeployParams(installer=_installer_spec(ctx.args))))


def step_ambient(ctx: Run) -> int:
    """Upgrade istio-cni and ztunnel in place."""
    from meshtui.engine.params import AMBIENT_COMPONENTS, AmbientParams

    components = tuple(ctx.args.components or AMBIENT_COMPONENTS)
    to = ctx.session.pair(ctx.view)[0] if ctx.args.back else None
    params = AmbientParams(installer=_installer_spec(ctx.args), components=components, to=to)
    return apply_plan(ctx, plan_or_refuse(ctx, params))


def _installer_spec(a: argparse.Namespace) -> InstallerSpec:
    """The installer the step's flags name (--manifests, --istioctl, --helm or --external)."""
    from meshtui.engine.installers import InstallerSpec

    if a.manifests:
        spec = InstallerSpec("manifests", a.manifests)
    elif a.istioctl:
        spec = InstallerSpec("istioctl", a.istioctl, extra_args=_sets(a.sets), kubeconfig=a.kubeconfig)
    elif a.helm:
        spec = InstallerSpec(
            "helm",
            a.helm,
            chart=getattr(a, "chart", "istio/istiod"),
            chart_version=a.chart_version,
            extra_args=_sets(a.sets),
            kubeconfig=a.kubeconfig,
        )
    else:
        spec = InstallerSpec("external")
    if a.timeout:
        spec = replace(spec, timeout=float(a.timeout))
    return spec


def _sets(values: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        out += ["--set", v]
    return tuple(out)
