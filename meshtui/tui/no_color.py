"""NO_COLOR that keeps emphasis: coloured text turns bold instead of a grey that may vanish.

Textual's monochrome filter maps red and green to greys that can disappear into a dark background,
and turns the terminal's default colours (the ANSI themes) into black. Here the terminal's default
colours stay, ANSI colours become the default colour, truecolour becomes grey, and text that had a
hue becomes bold (and bright, or dark on a light background).
"""

from __future__ import annotations

from rich.color import Color as RichColor
from rich.color import ColorType
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter

#: Channel spread above which a truecolour counts as colourful (a hue, not a grey).
_SPREAD = 48
#: ANSI colour numbers that are greys (black, white, bright black, bright white).
_ANSI_GREYS = frozenset({0, 7, 8, 15})
_DEFAULT = RichColor.default()
_LIGHT = RichColor.from_rgb(0xE8, 0xE8, 0xE8)
_DARK = RichColor.from_rgb(0x10, 0x10, 0x10)


def _plain(color: RichColor | None) -> tuple[RichColor | None, bool]:
    """A colour without hue, and whether it had one."""
    if color is None or color.type is ColorType.DEFAULT:
        return color, False
    if color.type in (ColorType.STANDARD, ColorType.WINDOWS) or (
        color.type is ColorType.EIGHT_BIT and (color.number or 0) < 16
    ):
        return _DEFAULT, (color.number or 0) not in _ANSI_GREYS
    r, g, b = color.get_truecolor()
    grey = Color(r, g, b).monochrome
    return grey.rich_color, max(r, g, b) - min(r, g, b) > _SPREAD


class ReadableMonochrome(LineFilter):
    """Greys (or the terminal's defaults) everywhere; bold for text that had a colour."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        emphasis = _DARK if background.brightness > 0.5 else _LIGHT
        out = []
        for text, style, control in segments:
            if style is None or control:
                out.append(Segment(text, style, control))
                continue
            color, hue = _plain(style.color)
            bgcolor, _ = _plain(style.bgcolor)
            if hue and not style.reverse:
                color = _DEFAULT if color is _DEFAULT else emphasis
                out.append(Segment(text, style + Style(color=color, bgcolor=bgcolor, bold=True), None))
            else:
                out.append(Segment(text, style + Style(color=color, bgcolor=bgcolor), None))
        return out
