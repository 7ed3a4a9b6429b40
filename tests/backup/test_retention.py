from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from client.backup.retention import to_delete, to_keep

NOW = dt.datetime(2026, 6, 30, 12, 0)
moments = st.lists(
    st.integers(min_value=0, max_value=400 * 24 * 60).map(lambda m: NOW - dt.timedelta(minutes=m)),
    max_size=60,
)


def test_plain_count_keeps_the_newest() -> None:
    times = [NOW - dt.timedelta(hours=h) for h in (5, 1, 3, 2, 4)]
    assert to_keep(times, NOW, 2, thin=False) == {1, 3}


def test_thinning_keeps_the_last_day_then_one_per_day() -> None:
    times = [NOW - dt.timedelta(hours=h) for h in (1, 2, 3, 30, 31, 55)]
    kept = to_keep(times, NOW, 100, thin=True)
    assert kept == {0, 1, 2, 3, 5}  # 30h and 31h ago fall on the same day: the newer stays


@settings(max_examples=300, deadline=None)
@given(moments, st.integers(min_value=1, max_value=20), st.booleans())
def test_retention_properties(times: list[dt.datetime], keep: int, thin: bool) -> None:
    kept = to_keep(times, NOW, keep, thin)
    assert kept | to_delete(times, NOW, keep, thin) == set(range(len(times)))
    assert len(kept) <= keep
    if times:
        assert max(range(len(times)), key=lambda i: (times[i], i)) in kept  # newest survives
    survivors = [times[i] for i in sorted(kept)]
    assert to_delete(survivors, NOW, keep, thin) == set()  # applying it again deletes nothing
    if not thin:
        assert len(kept) == min(keep, len(times))
