from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.rounding import Rounding, parse_rounding, round_amount, rounding_names

D = Decimal


@pytest.mark.parametrize(
    ("mode", "amount", "expected"),
    [
        # 四舍五入到分
        ("half_up_fen", "12.345", "12.35"),
        ("half_up_fen", "12.344", "12.34"),
        ("half_up_fen", "0.005", "0.01"),
        ("half_up_fen", "7", "7.00"),
        # 四舍五入到角
        ("half_up_jiao", "12.35", "12.40"),
        ("half_up_jiao", "12.34", "12.30"),
        ("half_up_jiao", "12.349", "12.30"),
        ("half_up_jiao", "0.05", "0.10"),
        # 见分进角: any fen raises the jiao; a sub-fen remainder first rounds to the fen
        ("up_jiao", "12.31", "12.40"),
        ("up_jiao", "12.30", "12.30"),
        ("up_jiao", "12.301", "12.30"),
        ("up_jiao", "12.305", "12.40"),
        ("up_jiao", "12.99", "13.00"),
        ("up_jiao", "0.01", "0.10"),
        # 舍去到角
        ("down_jiao", "12.39", "12.30"),
        ("down_jiao", "12.399", "12.30"),
        ("down_jiao", "0.09", "0.00"),
        # 到元
        ("half_up_yuan", "12.50", "13.00"),
        ("half_up_yuan", "12.49", "12.00"),
        ("down_fen", "12.349", "12.34"),
        ("up_yuan", "12.01", "13.00"),
        ("up_yuan", "12.004", "12.00"),
        ("down_yuan", "12.99", "12.00"),
    ],
)
def test_modes(mode: str, amount: str, expected: str) -> None:
    result = round_amount(D(amount), mode)
    assert result == D(expected)
    assert str(result) == expected  # always two decimals


def test_zero_in_every_mode() -> None:
    for mode in Rounding:
        assert str(round_amount(D("0"), mode)) == "0.00"


@pytest.mark.parametrize(
    ("name", "mode"),
    [("四舍五入到分", Rounding.HALF_UP_FEN), ("四舍五入到角", Rounding.HALF_UP_JIAO),
     ("见分进角", Rounding.UP_JIAO), ("舍去到角", Rounding.DOWN_JIAO), ("到元", Rounding.HALF_UP_YUAN),
     ("四舍五入到元", Rounding.HALF_UP_YUAN), ("up_jiao", Rounding.UP_JIAO)],
)
def test_chinese_names(name: str, mode: Rounding) -> None:
    assert parse_rounding(name) is mode
    assert name in rounding_names()


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="未知的舍入方式"):
        parse_rounding("bankers")


def test_rejects_float() -> None:
    with pytest.raises(TypeError):
        round_amount(1.5, "half_up_fen")  # type: ignore[arg-type]


amounts = st.decimals(min_value=0, max_value=10_000_000, places=4, allow_nan=False)


@given(amounts, st.sampled_from(list(Rounding)))
def test_idempotent_and_close(amount: Decimal, mode: Rounding) -> None:
    once = round_amount(amount, mode)
    assert round_amount(once, mode) == once
    assert once >= 0
    assert abs(once - amount) <= D("1")


@given(amounts, amounts, st.sampled_from(list(Rounding)))
def test_monotone(a: Decimal, b: Decimal, mode: Rounding) -> None:
    low, high = sorted((a, b))
    assert round_amount(low, mode) <= round_amount(high, mode)
