"""Deciding what is due: declarations are decided lazily, at the start of a request."""

from __future__ import annotations

from taxside import fee_decisions, wage_base
from taxside.regionrules import find_pack, region_pack
from taxside.web import store


def decide_due(unit_pk: int | None = None) -> None:
    """Decide the declarations and voids whose delay has passed (all units when
    ``unit_pk`` is None)."""
    wage_base.decide_due(store(), region_pack, unit_pk)
    fee_decisions.decide_due(store(), find_pack, unit_pk)
