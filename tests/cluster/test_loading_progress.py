"""Loading progress while a big mesh connects: the header says how many kinds have listed and how many
objects have arrived so far, page by page, before the first complete list."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from meshtui.cluster.errors import Unreachable
from meshtui.cluster.reflector import ConnState, ConnStatus
from meshtui.domain.inventory import Inventory
from meshtui.tui.widgets.mesh_header import health_text, loading_text
from tests.cluster.test_list_pages import FakeApi, apply_queued, page, pod, watched


def test_objects_so_far_count_each_page_of_a_first_list_and_show_in_the_header() -> None:
    api = FakeApi({"": [page([pod("a"), pod("b")], "t1")], "t1": [Unreachable("connection reset", cluster="c")]})
    inventory = Inventory()
    watch, reflector = watched(api, inventory)
    watch.targets = [SimpleNamespace(name="c", server="https://c")]  # type: ignore[list-item]
    watch.status("c", "Pod", ConnStatus(ConnState.CONNECTING))
    with pytest.raises(Unreachable):
        reflector._list()  # the first page came, the second did not
    (health,) = watch.health()
    assert (health.state, health.synced_kinds, health.total_kinds, health.listed_objects) == (
        ConnState.CONNECTING,
        0,
        1,
        2,
    )
    assert health.pending_kinds == ("Pod",)
    assert health_text((health,)).plain == "c ○ connecting"
    line = loading_text((health,))
    assert line is not None and line.plain == "Loading 0 of 1 kinds listed, 2 objects so far; listing Pod"
    # The list started over and completed: 3 objects came in this list, 5 in all so far; relists add none.
    api.script = {"": [page([pod("a"), pod("b")], "t1")], "t1": [page([pod("c")])]}
    reflector._list()
    apply_queued(watch)
    assert watch.health()[0].listed_objects == 5
    reflector._list()
    assert watch.health()[0].listed_objects == 5
    assert watch.health()[0].pending_kinds == ()
    assert loading_text(tuple(watch.health())) is None
