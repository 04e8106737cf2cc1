"""One rewritable status line on stderr, only when stderr is a terminal (pipes and files get nothing of it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from meshtui.cli.output import raw

_ERASE = "\r\x1b[2K"


class TtyLine:
    """`show` replaces the line, `clear` erases it so the next output starts on a clean line."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stderr
        self.tty = self.out.isatty()
        self._dirty = False

    def show(self, text: str) -> None:
        """Replace the line with `text` (on a terminal)."""
        if not self.tty:
            return
        term = raw(self.out)
        term.write(f"{_ERASE}{text}")
        term.flush()
        self._dirty = True

    def clear(self) -> None:
        """Erase the line, if one is shown."""
        if self._dirty:
            term = raw(self.out)
            term.write(_ERASE)
            term.flush()
            self._dirty = False


@contextmanager
def while_showing(text: str, out: TextIO | None = None) -> Iterator[None]:
    """Show `text` on the terminal while the block runs (a wait that would otherwise be silent)."""
    line = TtyLine(out)
    line.show(text)
    try:
        yield
    finally:
        line.clear()
