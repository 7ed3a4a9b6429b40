from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.latefee import late_days, late_fee
from rules.packs import load_pack

D = Decimal
BJ = load_pack("110000")
RULE = BJ.late_fee


def test_domain_example_100000_for_10_days_is_500() -> None:
    due = dt.date(2025, 5, 15)
    paid = dt.date(2025, 5, 25)
    assert late_days(BJ, due, paid) == 10
    assert late_fee(BJ, D("100000"), due, paid) == D("500.00")
    assert late_fee(RULE, D("100000"), due, paid) == D("500.00")


def test_paid_on_time() -> None:
    due = dt.date(2025, 5, 15)
    assert late_days(RULE, due, due) == 0
    assert late_fee(RULE, D("100000"), due, dt.date(2025, 5, 1)) == D("0.00")


def test_first_day_not_counted() -> None:
    rule = dataclasses.replace(RULE, first_day_counts=False)
    due = dt.date(2025, 5, 15)
    assert late_days(rule, due, dt.date(2025, 5, 16)) == 0
    assert late_days(rule, due, dt.date(2025, 5, 26)) == 10
    assert late_fee(rule, D("100000"), due, dt.date(2025, 5, 26)) == D("500.00")


def test_cap_at_amount() -> None:
    due, paid = dt.date(2020, 1, 1), dt.date(2026, 1, 1)
    uncapped = late_fee(RULE, D("1000"), due, paid)
    assert uncapped > D("1000")
    capped = dataclasses.replace(RULE, cap_at_amount=True)
    assert late_fee(capped, D("1000"), due, paid) == D("1000.00")


def test_rounding_of_fee() -> None:
    # 333.33 x 0.0005 x 3 = 0.499995 -> 0.50
    assert late_fee(RULE, D("333.33"), dt.date(2025, 1, 1), dt.date(2025, 1, 4)) == D("0.50")


def test_bad_inputs() -> None:
    due = dt.date(2025, 5, 15)
    with pytest.raises(TypeError):
        late_fee(RULE, 100.0, due, due)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        late_fee(RULE, D("-1"), due, due)
    with pytest.raises(TypeError):
        late_days(RULE, dt.datetime(2025, 5, 15), due)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        late_days("110000", due, due)  # type: ignore[arg-type]


dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


@given(st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False), dates, dates)
def test_fee_properties(amount: Decimal, due: dt.date, paid: dt.date) -> None:
    fee = late_fee(RULE, amount, due, paid)
    assert fee >= 0
    days = late_days(RULE, due, paid)
    assert days == max((paid - due).days, 0)
    later = late_fee(RULE, amount, due, paid + dt.timedelta(days=1))
    assert later >= fee
