"""Reading files an operator names (kubeconfigs, dumps) with bounds: regular files only, a maximum size.

A FIFO or a device (`/dev/zero`) would block or grow without end, so only regular files are read, and
never more than the documented maximum; YAML uses the C loader when PyYAML has libyaml (it also bounds
nesting depth, where the pure-Python loader would overflow the stack).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from meshtui.cluster.errors import ConfigError

#: The largest kubeconfig read (kubeconfigs are a few KB; a larger one is not a kubeconfig).
MAX_KUBECONFIG_BYTES = 16 * 1024 * 1024
#: The largest dump file read (`kubectl get pods -A -o yaml` of 50,000 pods is about 400 MB).
MAX_DUMP_BYTES = 1024 * 1024 * 1024

#: The fastest safe loader available: libyaml's when PyYAML was built with it.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FileRefused(ConfigError):
    """A file cannot be used as input: missing, not a regular file, too large, unreadable or not text."""


def read_bounded(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of a regular file no larger than `max_bytes`, or FileRefused with one sentence."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not block before the type check below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileRefused(f"{what} {path} does not exist.") from None
    except OSError as exc:
        raise FileRefused(f"{what} {path} cannot be opened ({exc.strerror}).") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileRefused(f"{what} {path} is a folder, not a file.")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{what} {path} is not a regular file (a pipe, socket or device is not read).")
        if info.st_size > max_bytes:
            raise FileRefused(
                f"{what} {path} is {_size(info.st_size)}, more than the {_size(max_bytes)} meshtui reads."
            )
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise FileRefused(f"{what} {path} cannot be read ({exc.strerror}).") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise FileRefused(f"{what} {path} grew past the {_size(max_bytes)} meshtui reads while being read.")
    return data


def decode_text(data: bytes, path: Path, what: str) -> str:
    """UTF-8 text, or FileRefused saying the file is not text."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{what} {path} is not UTF-8 text (byte {exc.start} cannot be decoded).") from None


def yaml_problem(exc: BaseException) -> str:
    """What is wrong with a YAML text, in a few words with the line: "exceeded maximum nesting depth at line 3"."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    if isinstance(exc, RecursionError):
        problem = "nested too deeply"
    text = str(problem or exc).strip().splitlines()
    words = text[0] if text else type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    return f"{words} at line {mark.line + 1}" if mark is not None else words


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"
