"""Istio version strings (`1.22.3`, `1.23.0-beta.1`, `1.22.3-asm.1`) parsed just enough to compare minors."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """Major, minor and patch of an Istio release; whatever follows the patch is kept only for display."""

    major: int
    minor: int
    patch: int
    text: str = ""

    @classmethod
    def parse(cls, text: str | None) -> Version | None:
        """Parse the leading `major.minor[.patch]`; None when the text does not start with one."""
        if not text:
            return None
        match = _VERSION.match(text.strip())
        if match is None:
            return None
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0), text)

    @property
    def minor_version(self) -> str:
        """The `major.minor` the skew rules compare."""
        return f"{self.major}.{self.minor}"

    def minors_above(self, other: Version) -> int:
        """How many minor releases this version is ahead of another (negative when behind)."""
        if self.major != other.major:
            return (self.major - other.major) * 1000
        return self.minor - other.minor
