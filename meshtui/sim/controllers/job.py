"""The Job controller: run pods until `completions` have succeeded, `parallelism` at a time, then Complete."""

from __future__ import annotations

from typing import Any

from meshtui.sim import errors
from meshtui.sim.controllers.base import (
    JOBS,
    PODS,
    Runtime,
    is_ready,
    is_terminating,
    pod_from_template,
    set_condition,
    write_status,
)
from meshtui.sim.store import now_rfc3339


def sync_job(rt: Runtime, namespace: str, name: str) -> None:
    """Create pods until enough have succeeded, then mark the Job Complete."""
    job = rt.store.get(JOBS, namespace, name)
    if job is None or is_terminating(job):
        return
    spec = job["spec"]
    completions = int(spec.get("completions", 1) or 1)
    parallelism = int(spec.get("parallelism", 1) or 1)
    uid = job["metadata"]["uid"]
    pods = rt.owned(PODS, namespace, uid)
    succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
    failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
    active = [
        p for p in pods if not is_terminating(p) and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]
    status: dict[str, Any] = dict(job.get("status") or {})
    complete = succeeded >= completions
    if not complete:
        missing = min(parallelism, completions - succeeded) - len(active)
        template = spec.get("template") or {}
        labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        for _ in range(max(0, missing)):
            pod = pod_from_template(template, namespace, rt.unique_pod_name(f"{name}-", namespace), job, labels)
            pod["spec"]["restartPolicy"] = (template.get("spec") or {}).get("restartPolicy", "Never")
            try:
                active.append(rt.store.create(PODS, pod))
            except errors.ApiError:
                rt.retry(("job", namespace, name))
                break
    new: dict[str, Any] = {
        "startTime": status.get("startTime") or now_rfc3339(),
        "uncountedTerminatedPods": {},
    }
    if active and not complete:
        new["active"] = len(active)
    if succeeded:
        new["succeeded"] = succeeded
    if failed:
        new["failed"] = failed
    new["ready"] = sum(1 for p in active if is_ready(p)) if not complete else 0
    new["terminating"] = 0
    conditions = list(status.get("conditions") or [])
    if complete:
        new["completionTime"] = status.get("completionTime") or now_rfc3339()
        conditions = set_condition(
            conditions,
            "SuccessCriteriaMet",
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        )
        conditions = set_condition(
            conditions, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"
        )
        for c in conditions:
            c.setdefault("lastProbeTime", c.get("lastTransitionTime"))
    if conditions:
        new["conditions"] = conditions
    write_status(rt, JOBS, namespace, name, new)
