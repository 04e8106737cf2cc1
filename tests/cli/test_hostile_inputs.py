"""A table of hostile command-line inputs: each gives one sentence on stderr, its documented exit code, no traceback.

Numbers out of range or not finite, files that are devices, pipes, binary, huge, nested 100,000 deep or
alias bombs, kubeconfigs broken in every field, credential plugins that fail or hang, options in the wrong
place or given twice, and control characters in arguments. docs/reliability.md lists the same table.
Each run is a subprocess with no developer configuration; none needs a cluster (they must fail first).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from meshtui.cli import exitcodes

RAW_CONTROL = "".join(chr(c) for c in (*range(0, 9), *range(11, 32), 127))


@dataclass(frozen=True)
class Case:
    """One hostile input: the argv (with {placeholders} for prepared files) and the exit code it must give."""

    id: str
    argv: tuple[str, ...]
    code: int
    env: tuple[tuple[str, str], ...] = ()


USAGE, PERMISSION, OK = exitcodes.USAGE, exitcodes.PERMISSION, exitcodes.OK
#: A usable kubeconfig whose server does not answer: an input that were not refused first would give exit 3.
REACHES = ("--kubeconfig", "{good}")
STEP_WITH_BATCHES = ("upgrade", "restart", "--all", *REACHES)

CASES: list[Case] = [
    # -- numbers ---------------------------------------------------------------------------------------------
    Case("batch-negative", (*STEP_WITH_BATCHES, "--batch", "-1"), USAGE),
    Case("batch-zero", (*STEP_WITH_BATCHES, "--batch", "0"), USAGE),
    Case("batch-fraction", (*STEP_WITH_BATCHES, "--batch", "1.5"), USAGE),
    Case("batch-word", (*STEP_WITH_BATCHES, "--batch", "five"), USAGE),
    Case("pause-nan", (*STEP_WITH_BATCHES, "--pause", "nan"), USAGE),
    Case("pause-inf", (*STEP_WITH_BATCHES, "--pause", "inf"), USAGE),
    Case("pause-negative", (*STEP_WITH_BATCHES, "--pause", "-1"), USAGE),
    Case("rollout-timeout-negative", (*STEP_WITH_BATCHES, "--rollout-timeout", "-1"), USAGE),
    Case("rollout-timeout-zero", (*STEP_WITH_BATCHES, "--rollout-timeout", "0"), USAGE),
    Case("rollout-timeout-nan", (*STEP_WITH_BATCHES, "--rollout-timeout", "nan"), USAGE),
    Case("timeout-negative", ("upgrade", "verify", "--timeout", "-5", *REACHES), USAGE),
    Case("timeout-infinite", ("upgrade", "verify", "--timeout", "inf", *REACHES), USAGE),
    Case("plan-batch-negative", ("plan", "restart", "--batch", "-3", *REACHES), USAGE),
    Case("plan-pause-minus-inf", ("plan", "restart", "--pause", "-inf", *REACHES), USAGE),
    Case("gateways-batch-zero", ("upgrade", "gateways", "--batch", "0", *REACHES), USAGE),
    Case("rollback-batch-negative", ("upgrade", "rollback", "--batch", "-1", *REACHES), USAGE),
    Case("sim-port-negative", ("sim", "--port", "-1"), USAGE),
    Case("sim-port-too-big", ("sim", "--port", "99999"), USAGE),
    Case("sim-port-word", ("sim", "--port", "http"), USAGE),
    Case("sim-port-in-use", ("sim", "--port", "{busy_port}"), USAGE),
    Case("sim-ready-delay-nan", ("sim", "--ready-delay", "nan"), USAGE),
    Case("sim-churn-negative", ("sim", "--churn", "-1"), USAGE),
    Case("sim-seed-word", ("sim", "--seed", "x"), USAGE),
    Case("sim-unknown-scenario", ("sim", "--scenario", "nope"), USAGE),
    Case("sim-param-not-key-value", ("sim", "--param", "namespaces"), USAGE),
    Case("sim-kubeconfig-out-unwritable", ("sim", "--kubeconfig-out", "/proc/no-such/kubeconfig"), USAGE),
    Case("demo-unknown-scenario", ("demo", "--scenario", "nope"), USAGE),
    Case("render-bad-version", ("sim", "render-revision", "--version", "1.x", "--out", "{tmp}/out"), USAGE),
    Case(
        "render-bad-gateway",
        ("sim", "render-revision", "--version", "1.2.3", "--gateway", "gw", "--out", "{tmp}/o"),
        USAGE,
    ),
    # -- kubeconfig files ------------------------------------------------------------------------------------
    Case("kubeconfig-dev-zero", ("status", "--kubeconfig", "/dev/zero"), USAGE),
    Case("kubeconfig-fifo", ("status", "--kubeconfig", "{fifo}"), USAGE),
    Case("kubeconfig-binary", ("status", "--kubeconfig", "{binary}"), USAGE),
    Case("kubeconfig-100k-deep-flow", ("status", "--kubeconfig", "{deep_flow}"), USAGE),
    Case("kubeconfig-deep-block", ("status", "--kubeconfig", "{deep_block}"), USAGE),
    Case("kubeconfig-folder", ("status", "--kubeconfig", "{tmp}"), USAGE),
    Case("kubeconfig-missing", ("status", "--kubeconfig", "{missing}"), USAGE),
    Case("kubeconfig-empty", ("status", "--kubeconfig", "{empty}"), USAGE),
    Case("kubeconfig-a-list", ("status", "--kubeconfig", "{a_list}"), USAGE),
    Case("kubeconfig-contexts-not-a-list", ("status", "--kubeconfig", "{contexts_int}"), USAGE),
    Case("kubeconfig-no-current-context", ("status", "--kubeconfig", "{no_current}"), USAGE),
    Case("kubeconfig-current-context-missing", ("status", "--kubeconfig", "{dangling_current}"), USAGE),
    Case("kubeconfig-context-without-cluster", ("status", "--kubeconfig", "{no_cluster}"), USAGE),
    Case("kubeconfig-huge-sparse", ("status", "--kubeconfig", "{huge}"), USAGE),
    Case("kubeconfig-alias-bomb", ("status", "--kubeconfig", "{alias_bomb}"), USAGE),
    Case("kubeconfig-unknown-context", ("status", "--kubeconfig", "{good}", "--context", "nope"), USAGE),
    Case("kubeconfig-empty-context-name", ("status", "--kubeconfig", "{good}", "--context", ""), USAGE),
    Case("kubeconfig-100k-context-name", ("status", "--kubeconfig", "{good}", "--context", "c" * 100_000), USAGE),
    Case("kubeconfig-env-all-missing", ("status",), USAGE, (("KUBECONFIG", "{missing}:{tmp}/also-missing"),)),
    Case("kubeconfig-token-file-dev-zero", ("status", "--kubeconfig", "{token_file_zero}"), USAGE),
    Case("kubeconfig-ca-file-fifo", ("status", "--kubeconfig", "{ca_fifo}"), USAGE),
    Case("dashboard-kubeconfig-binary", ("--kubeconfig", "{binary}"), USAGE),
    Case("upgrade-kubeconfig-fifo", ("upgrade", "status", "--kubeconfig", "{fifo}"), USAGE),
    # -- credential plugins ----------------------------------------------------------------------------------
    Case("exec-plugin-fails", ("status", "--kubeconfig", "{exec_fails}"), PERMISSION),
    Case(
        "exec-plugin-hangs",
        ("status", "--kubeconfig", "{exec_hangs}"),
        PERMISSION,
        (("MESHTUI_EXEC_PLUGIN_TIMEOUT", "1"),),
    ),
    Case("exec-plugin-garbage", ("status", "--kubeconfig", "{exec_garbage}"), PERMISSION),
    Case("exec-plugin-missing", ("status", "--kubeconfig", "{exec_missing}"), PERMISSION),
    Case("exec-plugin-wrong-api-version", ("status", "--kubeconfig", "{exec_wrong_version}"), PERMISSION),
    Case("exec-plugin-no-token", ("status", "--kubeconfig", "{exec_empty_status}"), PERMISSION),
    # -- dumps -----------------------------------------------------------------------------------------------
    Case("dump-dev-zero", ("status", "--from-file", "/dev/zero"), USAGE),
    Case("dump-fifo", ("status", "--from-file", "{fifo}"), USAGE),
    Case("dump-binary", ("status", "--from-file", "{binary}"), USAGE),
    Case("dump-100k-deep-flow", ("status", "--from-file", "{deep_flow}"), USAGE),
    Case("dump-deep-block", ("status", "--from-file", "{deep_block}"), USAGE),
    Case("dump-missing", ("status", "--from-file", "{missing}"), USAGE),
    Case("dump-empty", ("status", "--from-file", "{empty}"), USAGE),
    Case("dump-json-number", ("status", "--from-file", "{json_number}"), USAGE),
    Case("dump-empty-folder", ("status", "--from-file", "{empty_dir}"), USAGE),
    Case("dump-huge-sparse", ("status", "--from-file", "{huge_dump}"), USAGE),
    Case("dump-json-not-utf8", ("status", "--from-file", "{bad_json}"), USAGE),
    Case("dump-alias-bomb", ("status", "--from-file", "{alias_bomb}"), USAGE),
    Case("dump-list-items-not-a-list", ("status", "--from-file", "{list_not_list}"), USAGE),
    Case("check-dump-dev-zero", ("check", "--from-file", "/dev/zero"), USAGE),
    Case("check-dump-fifo", ("check", "--from-file", "{fifo}"), USAGE),
    # -- options in the wrong place, twice, or unknown ---------------------------------------------------------
    Case("source-twice-different", ("--source", "a", "status", "--source", "b", *REACHES), USAGE),
    Case("kubeconfig-twice-different", ("--kubeconfig", "x", "upgrade", "status", "--kubeconfig", "y"), USAGE),
    Case("theme-on-status", ("--theme", "ansi-dark", "status", *REACHES), USAGE),
    Case("kubeconfig-on-sim", ("--kubeconfig", "x", "sim"), USAGE),
    Case("read-only-on-sim", ("--read-only", "sim"), USAGE),
    Case("context-on-demo", ("--context", "a", "demo"), USAGE),
    Case("theme-unknown", ("--theme", "neon"), USAGE),
    Case("theme-escape-sequence", ("--theme", "\x1b]2;pwned\x07"), USAGE),
    Case("unknown-subcommand", ("frobnicate",), USAGE),
    Case("upgrade-without-step", ("upgrade",), USAGE),
    Case("switch-without-namespaces", ("upgrade", "switch", *REACHES), USAGE),
    Case("switch-namespaces-and-all", ("upgrade", "switch", "shop", "--all", *REACHES), USAGE),
    Case("install-without-method", ("upgrade", "install", *REACHES), USAGE),
    Case("plan-unknown-action", ("plan", "frobnicate", *REACHES), USAGE),
    Case("unknown-option", ("status", "--frobnicate", *REACHES), USAGE),
]


def _kubeconfig(path: Path, user: dict[str, object], **extra: object) -> str:
    doc: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    doc.update(extra)
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _plugin(path: Path, body: str) -> dict[str, object]:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(path), "interactiveMode": "Never"}}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("hostile")
    f: dict[str, str] = {"tmp": str(tmp), "missing": str(tmp / "missing.yaml")}
    os.mkfifo(tmp / "fifo")
    f["fifo"] = str(tmp / "fifo")
    (tmp / "binary.yaml").write_bytes(bytes(range(256)) * 16)
    f["binary"] = str(tmp / "binary.yaml")
    (tmp / "deep-flow.yaml").write_text("[" * 100_000 + "]" * 100_000)
    f["deep_flow"] = str(tmp / "deep-flow.yaml")
    (tmp / "deep-block.yaml").write_text("".join("  " * i + "k:\n" for i in range(5_000)))
    f["deep_block"] = str(tmp / "deep-block.yaml")
    (tmp / "empty.yaml").write_text("")
    f["empty"] = str(tmp / "empty.yaml")
    (tmp / "list.yaml").write_text("- 1\n- 2\n")
    f["a_list"] = str(tmp / "list.yaml")
    (tmp / "contexts-int.yaml").write_text("contexts: 7\ncurrent-context: c\n")
    f["contexts_int"] = str(tmp / "contexts-int.yaml")
    f["good"] = _kubeconfig(tmp / "good.yaml", {"token": "t"})
    f["no_current"] = _kubeconfig(tmp / "no-current.yaml", {"token": "t"}, **{"current-context": ""})
    f["dangling_current"] = _kubeconfig(tmp / "dangling.yaml", {"token": "t"}, **{"current-context": "gone"})
    f["no_cluster"] = _kubeconfig(tmp / "no-cluster.yaml", {"token": "t"}, clusters=[])
    f["token_file_zero"] = _kubeconfig(tmp / "token-file.yaml", {"tokenFile": "/dev/zero"})
    f["ca_fifo"] = _kubeconfig(
        tmp / "ca-fifo.yaml",
        {"token": "t"},
        clusters=[{"name": "c", "cluster": {"server": "https://127.0.0.1:9", "certificate-authority": "fifo"}}],
    )
    with open(tmp / "huge.yaml", "wb") as huge:
        huge.truncate(64 * 1024 * 1024)
    f["huge"] = str(tmp / "huge.yaml")
    with open(tmp / "huge-dump.yaml", "wb") as huge:
        huge.truncate(2 * 1024 * 1024 * 1024)
    f["huge_dump"] = str(tmp / "huge-dump.yaml")
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(ord("b"), ord("j")):
        prev = chr(i - 1)
        bomb.append(f"{chr(i)}: &{chr(i)} [{', '.join(['*' + prev] * 9)}]")
    (tmp / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    f["alias_bomb"] = str(tmp / "bomb.yaml")
    (tmp / "number.json").write_text("42")
    f["json_number"] = str(tmp / "number.json")
    (tmp / "empty-dir").mkdir()
    f["empty_dir"] = str(tmp / "empty-dir")
    (tmp / "bad.json").write_bytes(b'{"kind": "Pod", "metadata": {"name": "\xff\xfe"}}')
    f["bad_json"] = str(tmp / "bad.json")
    (tmp / "list-not-list.yaml").write_text("kind: PodList\nitems: 7\n")
    f["list_not_list"] = str(tmp / "list-not-list.yaml")
    f["exec_fails"] = _kubeconfig(
        tmp / "exec-fails.yaml", _plugin(tmp / "fails.sh", "echo 'token expired' >&2; exit 3")
    )
    f["exec_hangs"] = _kubeconfig(tmp / "exec-hangs.yaml", _plugin(tmp / "hangs.sh", "exec sleep 600"))
    f["exec_garbage"] = _kubeconfig(tmp / "exec-garbage.yaml", _plugin(tmp / "garbage.sh", "echo 'not json'"))
    missing_plugin = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(tmp / "nope.sh")}}
    f["exec_missing"] = _kubeconfig(tmp / "exec-missing.yaml", missing_plugin)
    wrong = 'echo \'{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {}}\''
    f["exec_wrong_version"] = _kubeconfig(tmp / "exec-wrong.yaml", _plugin(tmp / "wrong.sh", wrong))
    empty = 'echo \'{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {}}\''
    f["exec_empty_status"] = _kubeconfig(tmp / "exec-empty.yaml", _plugin(tmp / "empty.sh", empty))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    f["busy_port"] = str(busy.getsockname()[1])
    try:
        yield f
    finally:
        busy.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(files: dict[str, str], case: Case) -> None:
    argv = [a.format(**files) if "{" in a else a for a in case.argv]
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "HOME": files["tmp"],
        "KUBECONFIG": files["missing"],
        "MESHTUI_LOG": str(Path(files["tmp"]) / "meshtui.log"),
        **{k: v.format(**files) for k, v in case.env},
    }
    done = subprocess.run(
        [sys.executable, "-m", "meshtui", *argv],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"not one sentence on stderr:\n{done.stderr}"
    assert lines[0].startswith("meshtui"), lines[0]
    assert not any(c in done.stderr for c in RAW_CONTROL), repr(done.stderr)
    assert done.returncode == case.code, f"exit {done.returncode}, not {case.code}: {done.stderr}"


def test_the_table_is_large() -> None:
    assert len(CASES) >= 80
