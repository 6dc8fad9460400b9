"""Property tests: any sequence of puts, branches, prunes and reopens reads back exactly.

A model (a dict of checkpoint id -> values, plus the insertion order) is kept beside the
store. Each new checkpoint is a child of the head or of any older checkpoint still held,
appends a few items to an append channel (as a delta) or replaces it, and sometimes
changes an overwrite key. After every operation the store must agree with the model.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._support import STORE_KINDS, StoreUnderTest, make_save

items = st.one_of(st.integers(-5, 5), st.text(max_size=30), st.binary(max_size=8))

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.integers(0, 1000),  # which held checkpoint is the parent (0: the head)
            st.lists(items, max_size=4),  # items appended
            st.booleans(),  # replace the append channel instead of appending
            st.booleans(),  # change the overwrite key
        ),
        st.tuples(st.just("prune"), st.integers(1, 6)),
        st.tuples(st.just("reopen")),
    ),
    min_size=1,
    max_size=40,
)

_counter = itertools.count()


@pytest.mark.parametrize("kind", STORE_KINDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_any_history_of_puts_branches_and_prunes_reads_back_exactly(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    kind: str,
    ops: list[tuple[Any, ...]],
) -> None:
    path: Path = tmp_path_factory.mktemp("prop") / "store.sqlite"
    # each example on a new database of the session's cluster (a function-scoped fixture
    # would be shared by every example)
    cluster = request.getfixturevalue("pg_cluster") if kind == "postgres" else None
    url = cluster.create_database() if cluster is not None else ""
    store = StoreUnderTest(kind, path, url=url)
    model: dict[str, dict[str, Any]] = {}
    order: list[str] = []  # insertion order, oldest first
    try:
        root = {"log": [], "n": 0}
        store.cp.put(make_save("t", "root", None, 0, root))
        model["root"], order = root, ["root"]
        for op in ops:
            if op[0] == "put":
                _, pick, new_items, replace, bump = op
                parent = order[-1] if pick == 0 else order[pick % len(order)]
                before = model[parent]
                cid = f"c{next(_counter)}"
                if replace:
                    values = {"log": list(new_items), "n": before["n"]}
                    changed: dict[str, list[Any] | None] = {"log": None}
                else:
                    values = {"log": [*before["log"], *new_items], "n": before["n"]}
                    changed = {"log": list(new_items)}
                if bump:
                    values["n"] += 1
                    changed["n"] = None
                step = len(order)
                store.cp.put(make_save("t", cid, parent, step, values, changed))
                model[cid] = values
                order.append(cid)
            elif op[0] == "prune":
                keep = op[1]
                removed = store.cp.prune("t", keep)
                assert removed == max(0, len(order) - keep)
                for gone in order[:-keep]:
                    del model[gone]
                order = order[-keep:]
            else:
                store.reopen()
            assert [h.checkpoint_id for h in store.cp.history("t")] == list(reversed(order))
            latest = store.cp.get("t")
            assert latest is not None
            assert latest.checkpoint_id == order[-1]
        for cp in store.views():
            for cid, values in model.items():
                got = cp.get("t", cid)
                assert got is not None, cid
                assert got.values == values, cid
    finally:
        store.close()
        if cluster is not None:
            cluster.drop_database(url)
