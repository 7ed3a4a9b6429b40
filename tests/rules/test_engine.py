from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.engine import FeeResult, calculate
from rules.model import PackError
from rules.packs import bundled_pack_text, load_pack, parse_pack

D = Decimal
BJ = load_pack("110000")
SH = load_pack("310000")
SX = load_pack("140000")


def amounts(result: FeeResult) -> dict[str, tuple[str | None, str | None]]:
    return {
        i.code: (
            str(i.employer.amount) if i.employer else None,
            str(i.employee.amount) if i.employee else None,
        )
        for i in result.items
    }


def test_beijing_202407_base_8000_hand_checked() -> None:
    result = calculate(BJ, "202407", D("8000"), risk_class=1)
    # 8000 x 16% = 1280; 8000 x 8% = 640; 8000 x 9.8% = 784; 8000 x 2% + 3 = 163;
    # 8000 x 0.5% = 40 each; class 1 work injury 8000 x 0.2% = 16.
    assert amounts(result) == {
        "pension": ("1280.00", "640.00"),
        "medical": ("784.00", "163.00"),
        "unemployment": ("40.00", "40.00"),
        "injury": ("16.00", None),
    }
    assert result.employer_total == D("2120.00")
    assert result.employee_total == D("843.00")
    assert result.total == D("2963.00")
    assert result.item("medical").employee.fixed == D("3.00")  # type: ignore[union-attr]
    assert result.item("pension").clamped is None


def test_beijing_below_floor_clamps_to_6821() -> None:
    result = calculate(BJ, "202407", D("5000"), risk_class=3)
    pension = result.item("pension")
    assert pension.base == D("6821") and pension.clamped == "floor"
    assert pension.declared_base == D("5000")
    # 6821 x 9.8% = 668.458 -> 668.46; 6821 x 0.5% = 34.105 -> 34.11 (half up);
    # class 3: 6821 x 0.7% = 47.747 -> 47.75
    assert amounts(result) == {
        "pension": ("1091.36", "545.68"),
        "medical": ("668.46", "139.42"),
        "unemployment": ("34.11", "34.11"),
        "injury": ("47.75", None),
    }
    assert result.total == D("2560.89")


def test_beijing_above_cap_clamps_to_35283() -> None:
    result = calculate(BJ, "202506", D("50000"))
    assert all(i.base == D("35283") and i.clamped == "cap" for i in result.items)
    # 35283 x 16% = 5645.28; x 8% = 2822.64; x 9.8% = 3457.734 -> 3457.73; x 2% + 3 = 708.66
    assert amounts(result)["pension"] == ("5645.28", "2822.64")
    assert amounts(result)["medical"] == ("3457.73", "708.66")
    assert result.skipped and "工伤" in result.skipped[0]
    assert "injury" not in amounts(result)


def test_beijing_202507_uses_new_limits() -> None:
    low = calculate(BJ, "202507", D("7000"))
    high = calculate(BJ, "202507", D("40000"))
    assert low.item("pension").base == D("7162")
    assert high.item("pension").base == D("35811")
    assert low.item("pension").employer.amount == D("1145.92")  # type: ignore[union-attr]
    assert high.item("pension").employer.amount == D("5729.76")  # type: ignore[union-attr]


def test_shanghai_202407_employee_round_up_to_jiao() -> None:
    result = calculate(SH, "202407", D("8001"))
    # 8001 x 8% = 640.08 -> 见分进角 640.10; 8001 x 2% = 160.02 -> 160.10;
    # 8001 x 0.5% = 40.005 -> fen 40.01 -> 40.10. Employer half up to the fen.
    assert amounts(result) == {
        "pension": ("1280.16", "640.10"),
        "medical": ("800.10", "160.10"),
        "unemployment": ("40.01", "40.10"),
    }
    assert result.employee_total == D("840.30")


def test_shanghai_limits_both_years() -> None:
    assert calculate(SH, "202407", D("1")).item("pension").base == D("7384")
    assert calculate(SH, "202506", D("99999")).item("pension").base == D("36921")
    assert calculate(SH, "202507", D("1")).item("pension").base == D("7460")
    assert calculate(SH, "202606", D("99999")).item("pension").base == D("37302")


@pytest.mark.parametrize("period", ["202407", "202507"])
def test_shanxi_hand_checked(period: str) -> None:
    result = calculate(SX, period, D("3000"), risk_class=2, injury_float=D("0.5"))
    # floor 4113: x16% = 658.08, x8% = 329.04, x8% = 329.04, x2% = 82.26,
    # x0.7% = 28.791 -> 28.79, x0.3% = 12.339 -> 12.34, class 2 at 50%: x0.2% = 8.226 -> 8.23
    assert amounts(result) == {
        "pension": ("658.08", "329.04"),
        "medical": ("329.04", "82.26"),
        "unemployment": ("28.79", "12.34"),
        "injury": ("8.23", None),
    }
    assert result.item("injury").employer.rate == D("0.002")  # type: ignore[union-attr]
    assert not result.verified


def test_injury_float_and_class_checks() -> None:
    with pytest.raises(ValueError, match="1类行业"):
        calculate(BJ, "202407", D("8000"), risk_class=1, injury_float=D("0.8"))
    with pytest.raises(ValueError, match="风险类别"):
        calculate(BJ, "202407", D("8000"), risk_class=9)
    with pytest.raises(ValueError, match="风险类别"):
        calculate(BJ, "202407", D("8000"), risk_class="2")  # type: ignore[arg-type]
    r = calculate(BJ, "202407", D("10000"), risk_class=8, injury_float=D("1.5"))
    assert r.item("injury").employer.amount == D("285.00")  # type: ignore[union-attr]


def test_bad_inputs() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        calculate(BJ, "202407", 8000.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="负数"):
        calculate(BJ, "202407", D("-1"))
    with pytest.raises(ValueError, match="费款所属期"):
        calculate(BJ, "2024-13", D("8000"))
    with pytest.raises(PackError, match="202301"):
        calculate(BJ, "202301", D("8000"))


def test_integer_base_accepted() -> None:
    assert calculate(BJ, "202407", 8000).total == calculate(BJ, "202407", D("8000")).total  # type: ignore[arg-type]


def test_per_item_bases_only_for_government_where_allowed() -> None:
    with pytest.raises(ValueError, match="机关事业单位"):
        calculate(SX, "202407", D("8000"), bases_per_item={"pension": D("9000")})
    with pytest.raises(ValueError, match="不允许"):
        calculate(BJ, "202407", D("8000"), bases_per_item={"pension": D("9000")}, government_unit=True)
    with pytest.raises(ValueError, match="没有险种"):
        calculate(SX, "202407", D("8000"), bases_per_item={"housing": D("9000")}, government_unit=True)
    result = calculate(
        SX, "202407", D("8000"), bases_per_item={"pension": D("9000")}, government_unit=True
    )
    assert result.item("pension").base == D("9000")
    assert result.item("medical").base == D("8000")


def test_item_base_override() -> None:
    text = bundled_pack_text("110000").replace(
        'note = "单位0.5%、个人0.5%取自第三方计算器"\n',
        'note = "单位0.5%、个人0.5%取自第三方计算器"\n'
        '[periods.items.base]\nfloor = 5000\ncap = 30000\nverified = false\n',
        1,
    )
    pack = parse_pack(text)
    result = calculate(pack, "202407", D("4000"))
    assert result.item("unemployment").base == D("5000")
    assert result.item("pension").base == D("6821")


def test_as_dict_money_strings() -> None:
    data = calculate(BJ, "202407", D("8000"), risk_class=1).as_dict()
    assert data["total"] == "2963.00"
    assert data["items"][0]["employer"]["amount"] == "1280.00"
    assert data["items"][0]["base"] == "8000.00"
    assert data["period"] == "202407"


# ------------------------------------------------------------------ properties

packs = st.sampled_from([BJ, SH, SX])
periods = st.sampled_from(["202407", "202412", "202506", "202507", "202601", "202606"])
bases = st.decimals(min_value=0, max_value=200_000, places=2, allow_nan=False)
classes = st.one_of(st.none(), st.integers(1, 8))


@settings(max_examples=300)
@given(packs, periods, bases, classes)
def test_properties(pack, period: str, base: Decimal, risk_class: int | None) -> None:
    result = calculate(pack, period, base, risk_class=risk_class)
    for item in result.items:
        assert item.floor <= item.base <= item.cap
        for fee in (item.employer, item.employee):
            if fee is not None:
                assert fee.amount >= 0
                assert fee.amount == fee.rate_amount + fee.fixed
                assert fee.amount == fee.amount.quantize(D("0.01"))
    assert result.employer_total == sum((i.employer_amount for i in result.items), D(0))
    assert result.employee_total == sum((i.employee_amount for i in result.items), D(0))
    assert result.total == result.employer_total + result.employee_total


@settings(max_examples=300)
@given(packs, periods, bases, bases, classes)
def test_monotone_in_base(pack, period: str, a: Decimal, b: Decimal, risk_class: int | None) -> None:
    low, high = sorted((a, b))
    r_low = calculate(pack, period, low, risk_class=risk_class)
    r_high = calculate(pack, period, high, risk_class=risk_class)
    for x, y in zip(r_low.items, r_high.items, strict=True):
        assert x.employer_amount <= y.employer_amount
        assert x.employee_amount <= y.employee_amount
    assert r_low.total <= r_high.total
