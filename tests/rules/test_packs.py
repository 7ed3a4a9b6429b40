from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from rules.model import HOME_FUNCTIONS, PackError
from rules.packs import bundled_pack_text, bundled_regions, load_pack, parse_pack
from rules.periods import Period

BJ = bundled_pack_text("110000")


def test_bundled_regions() -> None:
    assert bundled_regions() == ["110000", "140000", "310000"]


@pytest.mark.parametrize("region", ["110000", "140000", "310000"])
def test_every_bundled_pack_loads_and_covers_both_base_years(region: str) -> None:
    pack = load_pack(region)
    assert pack.region == region
    assert pack.version and pack.name
    assert pack.collection_mode in ("税务自主征收", "税务代征")
    for period in ("202407", "202506", "202507", "202606"):
        pack.period_for(period)
    assert pack.first_period == Period(2024, 7)
    assert pack.last_period == Period(2026, 6)
    for function in pack.home_functions:
        assert function.key in HOME_FUNCTIONS


@pytest.mark.parametrize("region", ["110000", "140000", "310000"])
def test_every_figure_has_source_or_is_unverified(region: str) -> None:
    pack = load_pack(region)
    provenances = [pack.annual_window.provenance, pack.late_fee.provenance, pack.late_fee.convention]
    for rules in pack.periods:
        provenances.append(rules.base.provenance)
        for item in rules.items:
            provenances.append(item.base.provenance)
            for payer in (item.employer, item.employee):
                if payer is not None:
                    provenances += [payer.provenance, payer.rounding_provenance]
    for prov in provenances:
        assert prov.source or not prov.verified


def test_raw_file_marks_each_figure() -> None:
    # Read the TOML directly: every payer table of every item has its own or the item's mark.
    for region in bundled_regions():
        data = tomllib.loads(bundled_pack_text(region))
        for period in data["periods"]:
            assert "source" in period["base"] or period["base"].get("verified") is False
            for item in period["items"]:
                for payer in ("employer", "employee"):
                    if payer in item:
                        table = item[payer]
                        marked = "source" in table or table.get("verified") is False
                        inherited = "source" in item or item.get("verified") is False
                        assert marked or inherited, (region, item["code"], payer)


def test_published_bases() -> None:
    cases = {
        ("110000", "202407"): ("6821", "35283", True),
        ("110000", "202507"): ("7162", "35811", True),
        ("310000", "202407"): ("7384", "36921", True),
        ("310000", "202507"): ("7460", "37302", True),
        ("140000", "202407"): ("4113", "20564", False),
    }
    for (region, period), (floor, cap, verified) in cases.items():
        base = load_pack(region).period_for(period).base
        assert (base.floor, base.cap) == (Decimal(floor), Decimal(cap))
        assert base.provenance.verified is verified


def test_features_and_switches() -> None:
    assert load_pack("140000").feature("annuity_notice") is True
    assert load_pack("110000").feature("annuity_notice") is False
    assert load_pack("110000").feature("no_such_feature") is False
    assert "annuity_notice" in [f.key for f in load_pack("140000").home_functions]
    assert load_pack("140000").per_item_bases_for_government is True
    assert load_pack("110000").per_item_bases_for_government is False
    late = load_pack("110000").late_fee
    assert late.daily_rate == Decimal("0.0005")
    assert late.provenance.verified


def test_rates_are_exact_decimals() -> None:
    medical = load_pack("110000").period_for("202407").item("medical")
    assert medical.employer is not None and medical.employee is not None
    assert medical.employer.rate == Decimal("0.098")
    assert medical.employee.fixed == Decimal("3")
    assert isinstance(medical.employer.rate, Decimal)


def test_period_for_missing_period() -> None:
    with pytest.raises(PackError, match="没有费款所属期 202301"):
        load_pack("110000").period_for("202301")


def test_unknown_region() -> None:
    with pytest.raises(PackError, match="没有地区 990000"):
        load_pack("990000")
    with pytest.raises(PackError, match="6位数字"):
        bundled_pack_text("../etc")


def test_parse_pack_equals_load_pack() -> None:
    assert parse_pack(BJ) == load_pack("110000")


def test_annual_window() -> None:
    import datetime as dt

    window = load_pack("110000").annual_window
    assert window.is_open(dt.date(2025, 7, 1))
    assert window.is_open(dt.date(2025, 9, 30))
    assert not window.is_open(dt.date(2025, 10, 1))
    wrapping = parse_pack(BJ.replace('{ from = "07-01", to = "09-30" }', '{ from = "12-01", to = "01-31" }'))
    assert wrapping.annual_window.is_open(dt.date(2025, 12, 15))
    assert wrapping.annual_window.is_open(dt.date(2026, 1, 31))
    assert not wrapping.annual_window.is_open(dt.date(2026, 2, 1))


# ------------------------------------------------------------------ malformed packs

def _bad(old: str, new: str, count: int = 1) -> str:
    assert old in BJ, old
    return BJ.replace(old, new, count)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (_bad('region = "110000"', 'region = "11000"'), "region"),
        (_bad('region = "110000"\n', ""), "region"),
        (_bad('version = "2025.07.1"', 'version = "v1"'), "version"),
        (_bad('collection_mode = "税务自主征收"', 'collection_mode = "自收"'), "collection_mode"),
        (_bad("floor = 6821", "floor = \"abc\""), "periods[0].base.floor"),
        (_bad("floor = 6821", "floor = 40000"), "periods[0].base.cap"),
        (_bad("rate = 0.16", "rate = 16"), "periods[0].items[0].employer.rate"),
        (_bad("rate = 0.16", "rate = true"), "periods[0].items[0].employer.rate"),
        (_bad('rate = 0.16\nsource = "国办发〔2019〕13号"', "rate = 0.16"), "periods[0].items[0].employer"),
        (_bad("rate = 0.16", "rat = 0.16"), "periods[0].items[0].employer.rate"),
        (_bad("rate = 0.16", "rate = 0.16\nrat = 0.1"), "periods[0].items[0].employer.rat"),
        (_bad('employee = "half_up_fen"', 'employee = "bankers"'), "periods[0].rounding.employee"),
        (_bad('from = "202407"', 'from = "2024-13"'), "periods[0].from"),
        (_bad('to = "202506"', 'to = "202301"'), "periods[0].to"),
        (_bad('to = "202506"', 'to = "202508"'), "periods"),
        (_bad("daily_rate = 0.0005", "daily_rate = -1"), "late_fee.daily_rate"),
        (_bad("first_day_counts = true", 'first_day_counts = "yes"'), "late_fee.convention.first_day_counts"),
        (_bad('{ from = "07-01", to = "09-30" }', '{ from = "07-32", to = "09-30" }'), "annual_window.ranges[0].from"),
        (_bad("annuity_notice = false", "annuity_notice = 1"), "features.annuity_notice"),
        (_bad('code = "unemployment"', 'code = "pension"'), "periods[0].items[2].code"),
        (_bad("[0.002, 0.004,", "[0.004,"), "periods[0].items[3].employer.class_rates"),
        (_bad("[[1, 1.5], [0.5, 1.5],", "[[2, 1.5], [0.5, 1.5],"), "periods[0].items[3].employer.float_limits[0]"),
        (_bad('key = "enrollment"', 'key = "Enroll Ment"'), "home_functions[0].key"),
        (_bad('key = "queries"', 'key = "enrollment"'), "home_functions[7].key"),
        (_bad("format = 1", "format = 2"), "format"),
        (_bad("base_year_start_month = 7", "base_year_start_month = 13"), "base_year_start_month"),
        (_bad("[features]", "extra_key = 1\n[features]"), "extra_key"),
    ],
)
def test_malformed_pack_names_the_key(text: str, path: str) -> None:
    with pytest.raises(PackError) as info:
        parse_pack(text)
    assert info.value.path == path
    assert path in str(info.value)
    assert "规则包" in str(info.value)


def test_collect_mode_without_wage_base_functions() -> None:
    text = _bad('collection_mode = "税务自主征收"', 'collection_mode = "税务代征"')
    with pytest.raises(PackError, match="税务代征") as info:
        parse_pack(text)
    assert info.value.path == "home_functions[1].key"


def test_not_toml() -> None:
    with pytest.raises(PackError, match="TOML"):
        parse_pack("region = ")
    with pytest.raises(PackError):
        parse_pack(b"bytes")  # type: ignore[arg-type]


def test_pack_error_is_value_error() -> None:
    assert issubclass(PackError, ValueError)


def test_rates_as_strings_are_accepted() -> None:
    pack = parse_pack(_bad("rate = 0.16", 'rate = "0.16"'))
    employer = pack.period_for("202407").item("pension").employer
    assert employer is not None and employer.rate == Decimal("0.16")


def test_chinese_rounding_names_in_pack() -> None:
    pack = parse_pack(_bad('employee = "half_up_fen"', 'employee = "见分进角"'))
    employee = pack.period_for("202407").item("pension").employee
    assert employee is not None and employee.rounding.key == "up_jiao"
