"""Version-skew warnings (docs/istio.md#version-skew): proxies vs their istiod, and the canary jump."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from meshtui.domain.revisions import Revision
from meshtui.domain.versions import Version

PROXY_NEWER = "proxy_newer"
PROXY_TOO_OLD = "proxy_too_old"
JUMP_TOO_FAR = "jump_too_far"
MAX_CANARY_MINORS = 2  # a canary upgrade may jump two minors (1.8 -> 1.10)


@dataclass(frozen=True, slots=True)
class SkewWarning:
    """A skew the supported-releases policy forbids, with how many proxies it affects and the first few."""

    code: str
    message: str
    cluster: str | None = None
    revision: str | None = None
    proxy_version: str | None = None
    istiod_version: str | None = None
    count: int = 0
    first_offenders: tuple[str, ...] = ()


def proxy_skew(proxy_version: str | None, istiod_version: str | None) -> str | None:
    """The skew code of a proxy against its istiod: newer, more than one minor older, or None when fine."""
    proxy = Version.parse(proxy_version)
    istiod = Version.parse(istiod_version)
    if proxy is None or istiod is None:
        return None
    ahead = istiod.minors_above(proxy)
    if ahead < 0:
        return PROXY_NEWER
    if ahead > 1:
        return PROXY_TOO_OLD
    return None


def canary_jump(source_version: str | None, target_version: str | None) -> SkewWarning | None:
    """A warning when source and target are more than two minors apart (or differ in major)."""
    source = Version.parse(source_version)
    target = Version.parse(target_version)
    if source is None or target is None:
        return None
    span = abs(target.minors_above(source))
    if span <= MAX_CANARY_MINORS:
        return None
    return SkewWarning(
        JUMP_TOO_FAR,
        f"a canary upgrade from {source.minor_version} to {target.minor_version} spans {span} minor "
        f"versions; at most {MAX_CANARY_MINORS} are supported",
    )


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def skew_warnings(
    proxies: Mapping[tuple[str, str, str | None], int],
    revisions: Iterable[Revision],
    offenders: Callable[[str, str, str | None], tuple[str, ...]] | None = None,
) -> tuple[SkewWarning, ...]:
    """Warnings for live proxies, counted by (cluster, revision, proxy version), against their revision."""
    versions = {(r.cluster, r.name): r.version for r in revisions}
    warnings: list[SkewWarning] = []
    for (cluster, revision, proxy_version), count in sorted(proxies.items(), key=lambda kv: str(kv[0])):
        istiod_version = versions.get((cluster, revision))
        code = proxy_skew(proxy_version, istiod_version)
        if code is None or count <= 0:
            continue
        what = "newer than" if code == PROXY_NEWER else "more than one minor older than"
        verb = "runs" if count == 1 else "run"
        warnings.append(
            SkewWarning(
                code,
                f"{_plural(count, 'proxy', 'proxies')} on {revision} {verb} {proxy_version}, {what} "
                f"their istiod {istiod_version}",
                cluster,
                revision,
                proxy_version,
                istiod_version,
                count,
                offenders(cluster, revision, proxy_version) if offenders else (),
            )
        )
    return tuple(warnings)
