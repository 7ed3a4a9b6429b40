"""Which backups to delete: the maximum count, and optional thinning by age.

Pure functions over timestamps, so the rule can be tested on its own (tests/backup).
Thinning keeps every backup of the last day, then the newest of each day for a month,
the newest of each ISO week for a quarter and the newest of each month before that.
The newest backup is always kept, and applying the rule twice deletes nothing more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence


def _bucket(moment: dt.datetime, now: dt.datetime) -> Hashable:
    age = now - moment
    if age <= dt.timedelta(days=1):
        return ("all", moment)
    if age <= dt.timedelta(days=31):
        return ("day", moment.date())
    if age <= dt.timedelta(days=92):
        iso = moment.isocalendar()
        return ("week", iso[0], iso[1])
    return ("month", moment.year, moment.month)


def to_keep(times: Sequence[dt.datetime], now: dt.datetime, keep: int, thin: bool) -> set[int]:
    """Indices into ``times`` of the backups to keep (``keep`` >= 1)."""
    order = sorted(range(len(times)), key=lambda i: (times[i], i), reverse=True)
    if thin:
        buckets: set[Hashable] = set()
        thinned = []
        for i in order:  # newest first: the first of each bucket is its newest
            bucket = _bucket(times[i], now)
            if bucket not in buckets:
                buckets.add(bucket)
                thinned.append(i)
        order = thinned
    return set(order[: max(1, keep)])


def to_delete(times: Sequence[dt.datetime], now: dt.datetime, keep: int, thin: bool) -> set[int]:
    return set(range(len(times))) - to_keep(times, now, keep, thin)
