"""The dashboard's side of inert rendering: cluster strings shown with their control characters escaped.

Textual passes ESC through to the terminal, so a Lease holder with `ESC ] 2 ;` would retitle the
operator's window. Widgets that show cluster data render through `inert_renderable` (or `InertStatic`),
which applies `meshtui.domain.text` to strings, Rich `Text` (keeping its styles) and groups of them.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Group
from rich.segment import Segment
from rich.text import Span, Text
from textual.color import Color
from textual.filter import LineFilter
from textual.visual import VisualType
from textual.widgets import Static

from meshtui.domain.text import UNSAFE_PATTERN, has_unsafe, inert, inert_lines

#: What the line filter shows for a control character a widget did not escape itself.
REPLACEMENT = "\ufffd"
_UNSAFE_RE = re.compile(UNSAFE_PATTERN)


def inert_text(text: Text, *, keep_lines: bool = True) -> Text:
    """`text` with control characters escaped; styles stay on the characters they covered."""
    plain = text.plain
    if not has_unsafe(plain):
        return text
    escape = inert_lines if keep_lines else inert
    offsets = [0] * (len(plain) + 1)
    pieces = []
    pos = 0
    for i, ch in enumerate(plain):
        offsets[i] = pos
        piece = escape(ch) if has_unsafe(ch) else ch
        pieces.append(piece)
        pos += len(piece)
    offsets[len(plain)] = pos
    out = Text(
        "".join(pieces),
        style=text.style,
        justify=text.justify,
        overflow=text.overflow,
        no_wrap=text.no_wrap,
        end=text.end,
        tab_size=text.tab_size,
    )
    out.spans = [Span(offsets[s.start], offsets[min(s.end, len(plain))], s.style) for s in text.spans]
    return out


def inert_renderable(obj: Any) -> Any:
    """Strings, Rich Text and Groups of them made inert; anything else is returned as it is."""
    if isinstance(obj, str):
        return inert_lines(obj)
    if isinstance(obj, Text):
        return inert_text(obj)
    if isinstance(obj, Group):
        return Group(*(inert_renderable(r) for r in obj.renderables), fit=obj.fit)
    return obj


class InertStatic(Static):
    """A Static whose content is always rendered inert (never markup): for anything holding cluster data."""

    def __init__(self, content: VisualType = "", **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(inert_renderable(content), **kwargs)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        """Replace the content, made inert."""
        super().update(inert_renderable(content), layout=layout)


class InertFilter(LineFilter):
    """The last line of defence: any control character still in a rendered line becomes U+FFFD.

    Widgets escape cluster text visibly before layout (`InertStatic`, table cells); this filter sees every
    line of every widget (notifications and Textual's own widgets included), so nothing can reach the
    terminal raw even where a widget forgot.
    """

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        """The segments, with unsafe characters in their text replaced."""
        if all(not s.text or (s.text.isprintable() and s.text.isascii()) for s in segments):
            return segments
        return [
            Segment(_UNSAFE_RE.sub(REPLACEMENT, s.text), s.style, s.control)
            if s.text and not s.control and has_unsafe(s.text)
            else s
            for s in segments
        ]
