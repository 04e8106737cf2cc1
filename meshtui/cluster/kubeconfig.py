"""Kubeconfig loading: one API client per context, so several clusters form one mesh view."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from meshtui import __version__
from meshtui.cluster.errors import ConfigError
from meshtui.cluster.rawapi import default_options, set_options

#: Each reflector streams on its own connection; the client's default pool of 4 would thrash.
_POOL_SIZE = 32
IN_CLUSTER = "in-cluster"


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """A connected context: its name (used as the cluster name everywhere), server URL and API client."""

    name: str
    server: str
    api_client: k8s_client.ApiClient

    def close(self) -> None:
        """Close the API client's connection pool."""
        self.api_client.close()  # type: ignore[no-untyped-call]


def default_kubeconfig() -> str:
    """The kubeconfig path kubectl would use: $KUBECONFIG (first entry) or ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return os.path.expanduser(first or "~/.kube/config")


def current_context(kubeconfig: str | None = None) -> str:
    """The current-context of a kubeconfig, or a ConfigError saying what is wrong with it."""
    _, active = _contexts(kubeconfig)
    return str(active["name"])


def connect(kubeconfig: str | None = None, contexts: list[str] | None = None) -> list[ClusterTarget]:
    """One ClusterTarget per requested context (default: the current one; in-cluster when run in a pod).

    Exec plugins, OIDC and token refresh are handled by the official client's loader.
    """
    path = kubeconfig or default_kubeconfig()
    if not contexts and kubeconfig is None and not Path(path).exists() and _in_cluster_available():
        return [_in_cluster_target()]
    names = contexts or [current_context(kubeconfig)]
    if contexts:
        known = {str(c["name"]) for c in _contexts(kubeconfig)[0]}
        for name in names:
            if name not in known:
                raise ConfigError(
                    f"Context {name!r} is not in {path}; the contexts there are: {', '.join(sorted(known))}."
                )
    seen: set[str] = set()
    targets = []
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        targets.append(_target(path, name))
    return targets


def _contexts(kubeconfig: str | None) -> tuple[list[dict[str, object]], dict[str, object]]:
    path = kubeconfig or default_kubeconfig()
    if not Path(path).exists():
        raise ConfigError(
            f"No kubeconfig at {path}; pass --kubeconfig, set KUBECONFIG, or try `meshtui demo` (no cluster needed)."
        )
    try:
        contexts, active = k8s_config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
    except (ConfigException, yaml.YAMLError, OSError, TypeError, KeyError, AttributeError) as exc:
        raise ConfigError(
            f"The kubeconfig {path} cannot be read ({_one_line(exc)}); fix it or pass another with --kubeconfig."
        ) from None
    if not contexts:
        raise ConfigError(f"The kubeconfig {path} has no contexts; add one or pass another with --kubeconfig.")
    if not active:
        raise ConfigError(f"The kubeconfig {path} has no current-context; pass --context NAME.")
    return contexts, active


def _target(path: str, context: str) -> ClusterTarget:
    cfg = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context, client_configuration=cfg, persist_config=False
        )
    except (ConfigException, yaml.YAMLError, OSError, TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"Context {context!r} in {path} cannot be used ({_one_line(exc)}); check its cluster and user entries."
        ) from None
    target = _client(context, cfg)
    if _compression_disabled(path, context):
        set_options(target.api_client, replace(default_options(), compression=False))
    return target


def _compression_disabled(path: str, context: str) -> bool:
    """True when the context's cluster entry says `disable-compression: true`, as kubectl reads it."""
    try:
        with open(path, "rb") as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(data, dict):
        return False
    entry = next((c for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name") == context), None)
    cluster_name = ((entry or {}).get("context") or {}).get("cluster")
    for c in data.get("clusters") or []:
        if isinstance(c, dict) and c.get("name") == cluster_name:
            return (c.get("cluster") or {}).get("disable-compression") is True
    return False


def _client(name: str, cfg: k8s_client.Configuration) -> ClusterTarget:
    cfg.connection_pool_maxsize = _POOL_SIZE
    # urllib3 would retry a timed-out read three times (four timeouts before an answer); meshtui's callers
    # retry with backoff themselves, within their own deadlines.
    cfg.retries = False
    api = k8s_client.ApiClient(cfg)
    api.user_agent = f"meshtui/{__version__}"
    return ClusterTarget(name=name, server=str(cfg.host), api_client=api)


def _in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def _in_cluster_target() -> ClusterTarget:
    cfg = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except ConfigException as exc:
        raise ConfigError(f"In-cluster configuration failed ({_one_line(exc)}).") from None
    return _client(IN_CLUSTER, cfg)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
