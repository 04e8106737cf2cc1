"""The documented exit codes of every meshtui command."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """An exit code, typed: refusals and step results map to one by their kind, never by their words."""

    OK = 0
    #: A gate refused the action (the reasons are printed) or `status --check` found a gate closed.
    REFUSED = 1
    #: Bad usage or a bad kubeconfig/input file.
    USAGE = 2
    #: The cluster could not be reached (network, TLS, timeout, 5xx after retries).
    UNREACHABLE = 3
    #: The API server rejected the credentials (401), RBAC denied a request (403), or the credential plugin failed.
    PERMISSION = 4
    #: A write conflicted with another writer (409) and was not applied, or another operator holds the upgrade lock.
    CONFLICT = 5
    #: The work ran but a step failed or timed out (a rollout, an installer); the journal says which.
    FAILED = 6
    #: Interrupted by the user (Ctrl-C).
    INTERRUPTED = 130


OK = ExitCode.OK
REFUSED = ExitCode.REFUSED
USAGE = ExitCode.USAGE
UNREACHABLE = ExitCode.UNREACHABLE
PERMISSION = ExitCode.PERMISSION
CONFLICT = ExitCode.CONFLICT
FAILED = ExitCode.FAILED
INTERRUPTED = ExitCode.INTERRUPTED

DOC = """exit codes:
  0    done
  1    refused by a gate (the reasons are printed)
  2    bad usage, kubeconfig or input file
  3    cluster unreachable
  4    permission denied (401/403), or the kubeconfig's credential plugin failed or hung
  5    conflict with another writer (409), or the upgrade lock is held by another operator
  6    a step failed or timed out (a rollout, an installer, a verify check); the journal says which
  130  interrupted
"""
