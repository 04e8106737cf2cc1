"""Kubeconfig loading: one API client per context, so several clusters form one mesh view.

Files are found and merged as kubectl does (every `$KUBECONFIG` entry, the first to name a context,
cluster, user or current-context wins), read with bounds, and credential plugins run with a timeout. A
read-only connection refuses every request but GET and HEAD in the client's REST layer, the one place
every request of that client passes through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client import rest as k8s_rest
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.dateutil import parse_rfc3339
from kubernetes.config.exec_provider import ExecProvider
from kubernetes.config.kube_config import FileOrData, KubeConfigLoader, KubeConfigMerger

from meshtui import __version__
from meshtui.cluster.errors import ConfigError, CredentialPluginError, ReadOnlyViolation
from meshtui.cluster.files import MAX_KUBECONFIG_BYTES, SafeLoader, decode_text, read_bounded, yaml_problem
from meshtui.cluster.rawapi import default_options, set_options

#: Each reflector streams on its own connection; the client's default pool of 4 would thrash.
_POOL_SIZE = 32
IN_CLUSTER = "in-cluster"
#: Seconds an exec credential plugin may run (a plugin that asks the operator something gets longer).
EXEC_PLUGIN_TIMEOUT = 60.0
EXEC_PLUGIN_INTERACTIVE_TIMEOUT = 300.0
#: The environment variable that overrides EXEC_PLUGIN_TIMEOUT (seconds).
EXEC_TIMEOUT_ENV = "MESHTUI_EXEC_PLUGIN_TIMEOUT"
#: The HTTP methods a read-only connection sends.
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """A connected context: its name (used as the cluster name everywhere), server URL and API client."""

    name: str
    server: str
    api_client: k8s_client.ApiClient
    read_only: bool = False

    def close(self) -> None:
        """Close the API client's connection pool."""
        self.api_client.close()  # type: ignore[no-untyped-call]


def kubeconfig_paths(kubeconfig: str | None = None) -> list[str]:
    """The files kubectl would read, in merge order: --kubeconfig, else every $KUBECONFIG entry, else ~/.kube/config."""
    if kubeconfig:
        return [os.path.expanduser(kubeconfig)]
    env = os.environ.get("KUBECONFIG", "")
    entries = [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return list(dict.fromkeys(entries)) or [os.path.expanduser("~/.kube/config")]


def default_kubeconfig() -> str:
    """The kubeconfig kubectl would use, as the client's merger takes it: the $KUBECONFIG list or ~/.kube/config."""
    return os.pathsep.join(kubeconfig_paths(None))


def current_context(kubeconfig: str | None = None) -> str:
    """The current-context of a kubeconfig, or a ConfigError saying what is wrong with it."""
    return _Merged.read(kubeconfig).current


def connect(
    kubeconfig: str | None = None, contexts: list[str] | None = None, *, read_only: bool = False
) -> list[ClusterTarget]:
    """One ClusterTarget per requested context (default: the current one; in-cluster when run in a pod).

    With `read_only`, every client refuses any request but GET and HEAD. OIDC and token refresh are the
    official client's; exec plugins run with a timeout and a failing one stops here with one sentence.
    """
    paths = kubeconfig_paths(kubeconfig)
    if not contexts and kubeconfig is None and not any(Path(p).exists() for p in paths) and _in_cluster_available():
        return [_in_cluster_target(read_only)]
    merged = _Merged.read(kubeconfig)
    names = contexts or [merged.current]
    for name in names:
        if name not in merged.contexts:
            raise ConfigError(
                f"Context {name!r} is not in {merged.where}; the contexts there are: "
                f"{', '.join(sorted(merged.contexts))}."
            )
    targets = []
    for name in dict.fromkeys(names):
        targets.append(_target(merged, name, read_only))
    return targets


@dataclass(frozen=True, slots=True)
class _Merged:
    """The kubeconfig files that exist (validated), their context names and the current context."""

    files: tuple[str, ...]
    contexts: frozenset[str]
    current: str

    @property
    def where(self) -> str:
        return self.files[0] if len(self.files) == 1 else " + ".join(self.files)

    @classmethod
    def read(cls, kubeconfig: str | None) -> _Merged:
        paths = kubeconfig_paths(kubeconfig)
        existing = [p for p in paths if Path(p).exists() or Path(p).is_symlink()]
        if not existing or (kubeconfig and not Path(paths[0]).exists()):
            shown = " or ".join(paths)
            raise ConfigError(
                f"No kubeconfig at {shown}; pass --kubeconfig, set KUBECONFIG, or try `meshtui demo` "
                "(no cluster needed)."
            )
        contexts: list[str] = []
        current = ""
        for path in existing:
            doc = _load_file(path)
            for entry in doc.get("contexts") or []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    contexts.append(entry["name"])
            if not current and isinstance(doc.get("current-context"), str):
                current = doc["current-context"]
        where = existing[0] if len(existing) == 1 else " + ".join(existing)
        if not contexts:
            raise ConfigError(f"The kubeconfig {where} has no contexts; add one or pass another with --kubeconfig.")
        if not current:
            raise ConfigError(f"The kubeconfig {where} has no current-context; pass --context NAME.")
        return cls(tuple(existing), frozenset(contexts), current)


def _load_file(path: str) -> dict[str, Any]:
    """One kubeconfig file parsed, within bounds, or a ConfigError with one sentence."""
    text = decode_text(read_bounded(Path(path), MAX_KUBECONFIG_BYTES, "The kubeconfig"), Path(path), "The kubeconfig")
    try:
        doc = yaml.load(text, Loader=SafeLoader)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise ConfigError(
            f"The kubeconfig {path} cannot be read (not valid YAML: {yaml_problem(exc)}); "
            "fix it or pass another with --kubeconfig."
        ) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"The kubeconfig {path} is not a YAML mapping; fix it or pass another with --kubeconfig.")
    for key in ("contexts", "clusters", "users"):
        value = doc.get(key)
        if value is not None and not isinstance(value, list):
            raise ConfigError(f"The kubeconfig {path} has {key!r} that is not a list; fix it.")
    _check_referenced_files(path, doc)
    return doc


#: Fields of a kubeconfig's cluster and user entries that name a file the client reads whole.
_FILE_FIELDS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


def _check_referenced_files(path: str, doc: dict[str, Any]) -> None:
    """Refuse a referenced file that is a device, a pipe or too large (the client would read it without end)."""
    base = Path(path).parent
    for section, inner in (("clusters", "cluster"), ("users", "user")):
        for entry in doc.get(section) or []:
            body = entry.get(inner) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for key in _FILE_FIELDS:
                value = body.get(key)
                if not isinstance(value, str) or not value:
                    continue
                target = base / os.path.expanduser(value)
                if target.exists():
                    name = entry.get("name")
                    read_bounded(target, MAX_KUBECONFIG_BYTES, f"The {key} of {inner} {name!r} in {path},")


def _target(merged: _Merged, context: str, read_only: bool) -> ClusterTarget:
    cfg = k8s_client.Configuration()
    try:
        # The merger splits on the path separator and lets the first file that names an entry win.
        config = _untyped(KubeConfigMerger)(os.pathsep.join(merged.files)).config
        loader: Any = _untyped(_Loader)(config_dict=config, active_context=context, config_base_path=None)
        loader.load_and_set(cfg)
    except CredentialPluginError:
        raise
    except (ConfigException, yaml.YAMLError, OSError, TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"Context {context!r} in {merged.where} cannot be used ({_one_line(exc)}); "
            "check its cluster and user entries."
        ) from None
    target = _client(context, cfg, read_only)
    if _compression_disabled(merged.files, context):
        set_options(target.api_client, replace(default_options(), compression=False))
    return target


def _compression_disabled(files: tuple[str, ...], context: str) -> bool:
    """True when the context's cluster entry says `disable-compression: true`, as kubectl reads it.

    As in the merge, the first file that names the context (then the cluster) wins.
    """
    docs = [_load_file(path) for path in files]
    entry = next(
        (c for d in docs for c in d.get("contexts") or [] if isinstance(c, dict) and c.get("name") == context), None
    )
    cluster_name = ((entry or {}).get("context") or {}).get("cluster")
    for doc in docs:
        for c in doc.get("clusters") or []:
            if isinstance(c, dict) and c.get("name") == cluster_name:
                return (c.get("cluster") or {}).get("disable-compression") is True
    return False


class _Loader(KubeConfigLoader):
    """The client's loader, but an exec credential plugin runs with a timeout and its failure is an error.

    The client logs a failing plugin and carries on without credentials, and waits for a hanging one for ever.
    """

    def _load_from_exec_plugin(self) -> bool | None:
        me: Any = self
        if "exec" not in me._user:
            return None
        exec_config = me._user["exec"]
        command = str(exec_config.safe_get("command") or "?")
        base_path = me._get_base_path(me._cluster.path)
        try:
            status = _untyped(_TimedExecProvider)(exec_config, base_path, me._cluster).run()
        except subprocess.TimeoutExpired as exc:
            raise CredentialPluginError(
                f"The credential plugin {command!r} of this kubeconfig user gave no answer in {exc.timeout:g} s; "
                f"check that it runs on its own (set {EXEC_TIMEOUT_ENV} to wait longer)."
            ) from None
        except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
            raise CredentialPluginError(
                f"The credential plugin {command!r} of this kubeconfig user failed ({_one_line(exc)}); "
                "run it by hand to see why, or log in again."
            ) from None
        if not isinstance(status, dict) or not (
            "token" in status or ("clientCertificateData" in status and "clientKeyData" in status)
        ):
            raise CredentialPluginError(
                f"The credential plugin {command!r} returned neither a token nor a client certificate and key."
            )
        if "token" in status:
            self.token = f"Bearer {status['token']}"
        else:
            # As the client does: certificate and key go to temporary files the connection pool reads.
            for attr, key in (("cert_file", "clientCertificateData"), ("key_file", "clientKeyData")):
                setattr(
                    self,
                    attr,
                    _untyped(FileOrData)(
                        status,
                        None,
                        data_key_name=key,
                        file_base_path=base_path,
                        base64_file_content=False,
                        temp_file_path=self._temp_file_path,
                    ).as_file(),
                )
        if "expirationTimestamp" in status:
            self.expiry = _untyped(parse_rfc3339)(status["expirationTimestamp"])
        return True


class _TimedExecProvider(ExecProvider):
    """ExecProvider.run with a timeout: a hanging plugin is killed instead of hanging meshtui."""

    def run(self, previous_response: Any = None) -> Any:
        interactive = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
        info: dict[str, Any] = {
            "apiVersion": self.api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": interactive},
        }
        if previous_response:
            info["spec"]["response"] = previous_response
        if self.cluster:
            info["spec"]["cluster"] = self.cluster.value
        self.env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
        timeout = _exec_timeout(interactive)
        proc = subprocess.run(
            self.args,
            stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE,
            stdin=None if interactive else subprocess.DEVNULL,
            cwd=self.cwd,
            env=self.env,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            err = (proc.stderr or "").strip().splitlines()
            raise ConfigException(f"it exited with {proc.returncode}" + (f": {err[-1]}" if err else ""))
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise ConfigException("its output is not JSON") from None
        if not isinstance(data, dict) or not all(k in data for k in ("apiVersion", "kind", "status")):
            raise ConfigException("its output is not an ExecCredential")
        if data["apiVersion"] != self.api_version:
            raise ConfigException(f"it answered apiVersion {data['apiVersion']}, not {self.api_version}")
        return data["status"]


def _exec_timeout(interactive: bool) -> float:
    raw = os.environ.get(EXEC_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else 0.0
    except ValueError:
        value = 0.0
    if value > 0:
        return value
    return EXEC_PLUGIN_INTERACTIVE_TIMEOUT if interactive else EXEC_PLUGIN_TIMEOUT


class _ReadOnlyRest(k8s_rest.RESTClientObject):
    """The client's REST layer for a read-only connection: anything but GET and HEAD is refused unsent."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() not in READ_METHODS:
            path = url.split("://", 1)[-1].partition("/")[2].partition("?")[0]
            raise ReadOnlyViolation(
                f"Read-only mode: meshtui refused to send {method.upper()} /{path}; nothing was written."
            )
        return _untyped(super().request)(method, url, *args, **kwargs)


def _client(name: str, cfg: k8s_client.Configuration, read_only: bool) -> ClusterTarget:
    cfg.connection_pool_maxsize = _POOL_SIZE
    # urllib3 would retry a timed-out read three times (four timeouts before an answer); meshtui's callers
    # retry with backoff themselves, within their own deadlines.
    cfg.retries = False
    api = k8s_client.ApiClient(cfg)
    api.user_agent = f"meshtui/{__version__}"
    if read_only:
        api.rest_client = _ReadOnlyRest(cfg)
    return ClusterTarget(name=name, server=str(cfg.host), api_client=api, read_only=read_only)


def _in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def _in_cluster_target(read_only: bool) -> ClusterTarget:
    cfg = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except ConfigException as exc:
        raise ConfigError(f"In-cluster configuration failed ({_one_line(exc)}).") from None
    return _client(IN_CLUSTER, cfg, read_only)


def _untyped(fn: Any) -> Any:
    """The kubernetes client has no type hints: its callables are used as Any."""
    return fn


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
