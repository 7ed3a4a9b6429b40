"""One name per insurance item code (征收项目), wherever it is shown.

Fee declarations, payments and certificates name an item as its rule pack does (the tax
side's fee summaries carry the pack's ``name``, e.g. 基本医疗保险（含生育保险） where
maternity is part of medical), so the queries take their names from the same pack: the
period the date falls in, else the pack's latest period. A code the pack has no item for
(生育保险 where medical includes it) keeps its plain name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from rules.model import PackError, RulePack
from rules.periods import Period

DEFAULT_NAMES: Mapping[str, str] = {
    "pension": "基本养老保险", "medical": "基本医疗保险", "unemployment": "失业保险",
    "injury": "工伤保险", "maternity": "生育保险",
}
ORDER = tuple(DEFAULT_NAMES)


def item_names(pack: RulePack | None, period: Period | str | None = None) -> dict[str, str]:
    """Code -> name: the pack's names for ``period`` over the plain names."""
    names = dict(DEFAULT_NAMES)
    if pack is None or not pack.periods:
        return names
    rules = pack.periods[-1]
    if period is not None:
        with contextlib.suppress(PackError, ValueError):  # a date past the pack: its latest rules
            rules = pack.period_for(period)
    names.update((item.code, item.name) for item in rules.items)
    return names
