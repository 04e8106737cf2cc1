"""Library and meshtui logging go to a file, never to the terminal the dashboard draws on."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

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


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Send every logger to a rotating file and nothing to stderr; returns the file (None if unwritable)."""
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=5_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
        path = None  # type: ignore[assignment]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs every retry at WARNING with a traceback-like text: keep it, but only in the file.
    logging.captureWarnings(True)
    return path
