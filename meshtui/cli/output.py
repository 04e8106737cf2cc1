"""The CLI's stdout and stderr, rendered inert: cluster and file data cannot drive the operator's terminal.

Every line a command prints may hold names, Lease holders or server messages; `InertStream` escapes
their control characters (`\\x1b`) as they are written, so no print call can forget to. JSON goes to the
binary buffer through `meshtui.domain.text.inert_json`; deliberate terminal control (a progress line
rewritten in place) goes to `raw`.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from meshtui.domain.text import inert_lines


class InertStream:
    """A text stream that writes through `inert_lines`; `raw` is the stream underneath."""

    def __init__(self, raw: TextIO):
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(inert_lines(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        # flush, isatty, fileno, buffer, encoding...: those of the stream underneath.
        return getattr(self.raw, name)


def install() -> None:
    """Make sys.stdout and sys.stderr inert for the rest of this (non-dashboard) command."""
    if not isinstance(sys.stdout, InertStream):
        sys.stdout = InertStream(sys.stdout)
    if not isinstance(sys.stderr, InertStream):
        sys.stderr = InertStream(sys.stderr)


def raw(stream: TextIO) -> TextIO:
    """The stream under an InertStream (for deliberate terminal control), else the stream itself."""
    return stream.raw if isinstance(stream, InertStream) else stream
