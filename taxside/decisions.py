"""Deciding what is due: declarations are decided lazily, at the start of a request."""

from __future__ import annotations

from taxside import wage_base
from taxside.regionrules import region_pack
from taxside.web import store


def decide_due(unit_pk: int | None = None) -> None:
    """Decide the declarations whose delay has passed (all units when ``unit_pk`` is None)."""
    wage_base.decide_due(store(), region_pack, unit_pk)
