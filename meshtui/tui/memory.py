"""Garbage-collector settings for a process that holds a 50,000-pod inventory for hours.

With default thresholds, Python re-scans every long-lived object (the whole inventory) in full
collections of 100-700 ms that stop every thread, the UI included, again and again while the watch
fills the inventory. Loading runs with rare young collections; once synced, what is loaded is frozen
out of the collector's sight, small young collections come back and full ones become rarer.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

#: Young-generation threshold while the inventory loads: fewer, larger steps.
LOADING_THRESHOLD = 50_000
#: Once loaded, full collections only every this many middle ones (Python's default is 10): the watch
#: keeps replacing thousands of small long-lived objects, and each full scan of them stalls every thread.
SETTLED_OLD_THRESHOLD = 100
_DEFAULT = gc.get_threshold()


def loading() -> None:
    """Collect rarely while tens of thousands of long-lived objects arrive (process-wide)."""
    gc.set_threshold(max(LOADING_THRESHOLD, _DEFAULT[0]), *_DEFAULT[1:])


def freeze_loaded() -> None:
    """Move every object alive now (the synced inventory) out of the collector's sight; back to small steps."""
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(_DEFAULT[0], _DEFAULT[1], max(SETTLED_OLD_THRESHOLD, _DEFAULT[2]))
    log.info("froze %d long-lived objects out of the cyclic collector", gc.get_freeze_count())
