"""Strings from a cluster or a file made inert for a terminal: control characters shown as visible escapes.

A Lease holder, a name or a message may carry ESC sequences that retitle, recolour or clear the
operator's terminal. Every surface (CLI text, stderr, the log, the dashboard) renders such strings
through `inert` at render time; the data itself stays untouched, because names are used in API calls.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the Unicode bidirectional overrides/isolates (they reorder what
# follows on the line, so a name could display as another).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: A regex character class matching every character `inert` escapes.
UNSAFE_PATTERN = f"[\x00-\x1f\x7f-\x9f{_BIDI}]"
_UNSAFE_RE = re.compile(UNSAFE_PATTERN)
_UNSAFE_KEEP_LINES_RE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_JSON_RE = re.compile(rb"\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]")

#: Every ASCII byte, deleted to leave only the multi-byte characters of UTF-8 text.
_ASCII = bytes(range(0x80))

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def inert(text: str) -> str:
    """`text` with every control character escaped visibly (`\\x1b`, `\\n`, `\\u202e`); printable text unchanged."""
    if text.isprintable() and text.isascii():
        return text
    return _UNSAFE_RE.sub(_escape, text)


def inert_lines(text: str) -> str:
    """As `inert`, but newlines and tabs stay (for multi-line output whose lines are each made inert)."""
    if text.isascii() and all(c.isprintable() or c in "\n\t" for c in text):
        return text
    return _UNSAFE_KEEP_LINES_RE.sub(_escape, text)


def has_unsafe(text: str) -> bool:
    """Whether `text` holds a character `inert` would escape."""
    return _UNSAFE_RE.search(text) is not None


def inert_json(data: bytes) -> bytes:
    """UTF-8 JSON with C1 controls and bidi overrides written as `\\uXXXX` escapes (JSON already escapes C0).

    These characters can only occur inside JSON strings, where the escape means the same character.
    """
    # Searched first among the multi-byte characters alone (a fraction of a large document): each keeps its
    # bytes together, and the pattern only matches from a character's lead byte.
    if data.isascii() or _UNSAFE_JSON_RE.search(data.translate(None, _ASCII)) is None:
        return data
    return _UNSAFE_JSON_RE.sub(lambda m: f"\\u{ord(m.group().decode('utf-8')):04x}".encode(), data)
