"""Library and meshtui logging go to a file, never to the terminal the dashboard draws on."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from meshtui.domain.text import inert, inert_lines

DEFAULT_LOG = "~/.cache/meshtui/meshtui.log"


def log_path() -> Path:
    """$MESHTUI_LOG, else ~/.cache/meshtui/meshtui.log (under $XDG_CACHE_HOME when set)."""
    explicit = os.environ.get("MESHTUI_LOG")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    if cache:
        return Path(cache) / "meshtui" / "meshtui.log"
    return Path(DEFAULT_LOG).expanduser()


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log readable by its owner only (0600): it holds cluster names, identities and errors."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


class InertFormatter(logging.Formatter):
    """Each message with its control characters escaped, so `tail -f` of the log cannot drive a terminal."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = inert(record.message)
        return super().formatMessage(record)

    def formatException(self, ei):  # type: ignore[no-untyped-def]
        return inert_lines(super().formatException(ei))


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Send every logger to a rotating file and nothing to stderr; returns the file (None if unwritable)."""
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = PrivateRotatingFileHandler(path, maxBytes=5_000_000, backupCount=2, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
        path = None  # type: ignore[assignment]
    handler.setFormatter(InertFormatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs every retry at WARNING with a traceback-like text: keep it, but only in the file.
    logging.captureWarnings(True)
    return path
