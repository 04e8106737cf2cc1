"""The kubelet and scheduler: bind pods to nodes, start them Ready after a delay, remove deleted ones.

Annotation `sim.meshtui.io/crashloop: "true"` makes the app container crash-loop (Running, not Ready,
CrashLoopBackOff, restartCount rising); pods whose restartPolicy is not Always run to completion.
"""

from __future__ import annotations

import functools
import hashlib
import os
from typing import Any

from meshtui.sim import deletion, errors
from meshtui.sim.controllers.ambient import enrol_pod
from meshtui.sim.controllers.base import PODS, Runtime, is_terminating
from meshtui.sim.store import Obj, now_rfc3339

CRASHLOOP = "sim.meshtui.io/crashloop"
PROXY = "istio-proxy"


def sync_pod(rt: Runtime, namespace: str, name: str) -> None:
    """Advance one pod: remove it after its grace period, bind it, or start it after the ready delay."""
    pod = rt.store.get(PODS, namespace, name)
    if pod is None:
        return
    uid = pod["metadata"]["uid"]
    if is_terminating(pod):
        mark = ("remove", namespace, name, uid)
        if mark in rt.scheduled:
            return
        rt.scheduled.add(mark)
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
        rt.after(min(grace, rt.settings.pod_termination_delay), lambda: _remove(rt, mark))
        return
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Pending":
        if not (pod.get("spec") or {}).get("nodeName"):
            _bind(rt, pod)
            rt.enqueue(("pod", namespace, name))
            return
        mark = ("start", namespace, name, uid)
        if mark not in rt.scheduled:
            rt.scheduled.add(mark)
            rt.after(0 if rt.instant else rt.settings.pod_ready_delay, lambda: _start(rt, mark))
        return
    if phase == "Running":
        if _crashlooping(pod):
            mark = ("crash", namespace, name, uid)
            if mark not in rt.scheduled:
                rt.scheduled.add(mark)
                rt.after(_crash_period(rt), lambda: _crash_tick(rt, mark), kind="periodic")
        elif (pod.get("spec") or {}).get("restartPolicy", "Always") != "Always":
            mark = ("complete", namespace, name, uid)
            if mark not in rt.scheduled:
                rt.scheduled.add(mark)
                delay = float(rt.settings.params.get("job_run_seconds", rt.settings.pod_ready_delay))
                rt.after(0 if rt.instant else delay, lambda: _complete(rt, mark))


def _same_pod(rt: Runtime, mark: tuple[str, str, str, str]) -> Obj | None:
    rt.scheduled.discard(mark)
    pod = rt.store.get(PODS, mark[1], mark[2])
    if pod is None or pod["metadata"]["uid"] != mark[3]:
        return None
    return pod


def _remove(rt: Runtime, mark: tuple[str, str, str, str]) -> None:
    pod = _same_pod(rt, mark)
    if pod is None:
        return
    try:
        deletion.finalize(rt.store, PODS, mark[1], mark[2])
    except errors.ApiError as exc:
        if exc.code != 404:
            raise


def _bind(rt: Runtime, pod: Obj) -> None:
    node = rt.next_node()
    now = now_rfc3339()

    def bind(obj: Obj) -> Obj:
        obj["spec"]["nodeName"] = node
        return obj

    meta = pod["metadata"]
    rt.store.update(PODS, meta["namespace"], meta["name"], bind, admit=False)

    def scheduled(obj: Obj) -> Obj:
        status = obj.setdefault("status", {})
        status["conditions"] = [
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
        ]
        return obj

    rt.store.update(PODS, meta["namespace"], meta["name"], scheduled, subresource="status")


def running_status(
    pod: Obj, *, host_ip: str, pod_ip: str, crashloop: bool = False, restarts: int = 0, now: str | None = None
) -> dict[str, Any]:
    """The status of a started pod: Running, every container up (Ready unless crash-looping)."""
    now = now or now_rfc3339()
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    start = old.get("startTime") or now
    app_names = [c["name"] for c in spec.get("containers") or [] if c.get("name") != PROXY]
    crashing = app_names[0] if crashloop and app_names else None
    known = {st.get("name"): st.get("containerID") for st in old.get("containerStatuses") or []}
    statuses = []
    for c in spec.get("containers") or []:
        st: dict[str, Any] = {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": _image_id(c.get("image", "")),
            "containerID": known.get(c["name"]) or f"containerd://{_cid(pod, c['name'])}",
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": start}},
        }
        if c["name"] == crashing:
            st.update(
                {
                    "ready": False,
                    "started": False,
                    "restartCount": restarts,
                    "state": {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"back-off 5m0s restarting failed container={c['name']} "
                            f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}",
                        }
                    },
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "startedAt": start,
                            "finishedAt": now,
                            "containerID": f"containerd://{_cid(pod, c['name'])}",
                        }
                    },
                }
            )
        statuses.append(st)
    init_statuses = []
    for c in spec.get("initContainers") or []:
        cid = f"containerd://{_cid(pod, c['name'])}"
        if c.get("restartPolicy") == "Always":
            state: dict[str, Any] = {"running": {"startedAt": start}}
            init_statuses.append(
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": _image_id(c.get("image", "")),
                    "containerID": cid,
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": state,
                }
            )
        else:
            state = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": start,
                    "finishedAt": start,
                    "containerID": cid,
                }
            }
            init_statuses.append(
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": _image_id(c.get("image", "")),
                    "containerID": cid,
                    "ready": True,
                    "started": False,
                    "restartCount": 0,
                    "state": state,
                }
            )
    ready = crashing is None
    unready = f"containers with unready status: [{crashing}]"

    def cond(ctype: str, ok: bool) -> dict[str, Any]:
        c: dict[str, Any] = {
            "type": ctype,
            "status": "True" if ok else "False",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }
        if not ok:
            c.update({"reason": "ContainersNotReady", "message": unready})
        return c

    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [
            cond("PodReadyToStartContainers", True),
            cond("Initialized", True),
            cond("Ready", ready),
            cond("ContainersReady", ready),
            cond("PodScheduled", True),
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start,
        "containerStatuses": statuses,
        "qosClass": old.get("qosClass", "BestEffort"),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return status


def _start(rt: Runtime, mark: tuple[str, str, str, str]) -> None:
    pod = _same_pod(rt, mark)
    if pod is None or is_terminating(pod) or (pod.get("status") or {}).get("phase") != "Pending":
        return
    node = pod["spec"].get("nodeName") or rt.next_node()
    status = running_status(
        pod,
        host_ip=node_ip(node),
        pod_ip=rt.pod_ip(node),
        crashloop=_crashlooping(pod),
        restarts=1 if _crashlooping(pod) else 0,
    )
    _write(rt, mark, status)
    started = _same_pod(rt, mark)
    if started is not None:
        enrol_pod(rt, started)  # istio-cni sets the pod up as it starts
    rt.enqueue(("pod", mark[1], mark[2]))  # crash-loop ticks and run-to-completion start from Running


def _crash_tick(rt: Runtime, mark: tuple[str, str, str, str]) -> None:
    pod = _same_pod(rt, mark)
    if pod is None or is_terminating(pod):
        return
    status = pod.get("status") or {}
    restarts = 0
    for st in status.get("containerStatuses") or []:
        if not st.get("ready"):
            restarts = int(st.get("restartCount", 0))
    status = running_status(
        pod,
        host_ip=status.get("hostIP", ""),
        pod_ip=status.get("podIP", ""),
        crashloop=True,
        restarts=restarts + 1,
    )
    _write(rt, mark, status)
    rt.enqueue(("pod", mark[1], mark[2]))


def _complete(rt: Runtime, mark: tuple[str, str, str, str]) -> None:
    pod = _same_pod(rt, mark)
    if pod is None or is_terminating(pod):
        return
    status = dict(pod.get("status") or {})
    now = now_rfc3339()
    for st in status.get("containerStatuses") or []:
        started = ((st.get("state") or {}).get("running") or {}).get("startedAt", now)
        st.update(
            {
                "ready": False,
                "started": False,
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": started,
                        "finishedAt": now,
                        "containerID": st.get("containerID", ""),
                    }
                },
            }
        )
    for st in status.get("initContainerStatuses") or []:
        if "running" in (st.get("state") or {}):
            started = st["state"]["running"].get("startedAt", now)
            st.update(
                {
                    "ready": False,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": started,
                            "finishedAt": now,
                            "containerID": st.get("containerID", ""),
                        }
                    },
                }
            )
    conds = []
    for c in status.get("conditions") or []:
        c = dict(c)
        if c["type"] in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
            c.update({"status": "False", "lastTransitionTime": now})
            if c["type"] != "PodReadyToStartContainers":
                c["reason"] = "PodCompleted"
        conds.append(c)
    status.update({"phase": "Succeeded", "conditions": conds})
    _write(rt, mark, status)


def _write(rt: Runtime, mark: tuple[str, str, str, str], status: dict[str, Any]) -> None:
    def apply(obj: Obj) -> Obj:
        obj["status"] = status
        return obj

    try:
        rt.store.update(PODS, mark[1], mark[2], apply, subresource="status")
    except errors.ApiError as exc:
        if exc.code != 404:
            raise


def _crashlooping(pod: Obj) -> bool:
    return str((pod["metadata"].get("annotations") or {}).get(CRASHLOOP, "")).lower() == "true"


def _crash_period(rt: Runtime) -> float:
    return float(rt.settings.params.get("crashloop_period", max(0.05, rt.settings.pod_ready_delay * 2)))


def node_ip(node: str) -> str:
    """The InternalIP of a simulated node."""
    suffix = node.rsplit("-", 1)[-1]
    return f"10.0.0.{int(suffix) + 10 if suffix.isdigit() else 10}"


def _cid(pod: Obj, container: str) -> str:
    del pod, container
    return os.urandom(32).hex()  # containerd IDs are 64 random hex characters


@functools.lru_cache(maxsize=4096)
def _image_id(image: str) -> str:
    repo = image.split(":")[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def ensure_nodes(rt: Runtime) -> None:
    """Create the simulated Node objects (Ready, with the configured kubelet version) if missing."""
    for name in rt.node_names():
        if rt.store.entry("nodes", None, name) is not None:
            continue
        rt.store.create("nodes", node_object(name, rt.settings.kubelet_version))


def node_object(name: str, kubelet_version: str) -> Obj:
    """A Ready Node as the kubelet registers it."""
    now = now_rfc3339()
    return {
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": f"sim-zone-{name.rsplit('-', 1)[-1]}",
            },
        },
        "spec": {"podCIDR": f"10.244.{name.rsplit('-', 1)[-1]}.0/24"},
        "status": {
            "conditions": [
                {
                    "type": t,
                    "status": "False",
                    "reason": r,
                    "message": m,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
                for t, r, m in (
                    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
                    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                )
            ]
            + [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": node_ip(name)},
                {"type": "Hostname", "address": name},
            ],
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "250"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "250"},
            "nodeInfo": {
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version,
                "containerRuntimeVersion": "containerd://1.7.22",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Simulated Linux",
                "kernelVersion": "6.8.0",
            },
        },
    }
