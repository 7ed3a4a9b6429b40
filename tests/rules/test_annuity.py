"""The 职业年金 rates of a rule pack (``[annuity]``, docs/rules.md): parsed with provenance,
absent where the pack has none, and malformed tables refused with the key's path."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rules.model import PackError
from rules.packs import bundled_pack_text, load_pack, parse_pack


def test_shanxi_has_the_national_rates() -> None:
    pack = load_pack("140000")
    assert pack.feature("annuity_notice") and pack.annuity is not None
    assert (pack.annuity.employer_rate, pack.annuity.employee_rate) == (Decimal("0.08"), Decimal("0.04"))
    assert pack.annuity.base_item == "pension" and "国办发〔2015〕18号" in (pack.annuity.provenance.source or "")
    assert pack.annuity.provenance.verified


@pytest.mark.parametrize("region", ["110000", "310000"])
def test_other_regions_have_none(region: str) -> None:
    pack = load_pack(region)
    assert pack.annuity is None and not pack.feature("annuity_notice")


@pytest.mark.parametrize("change, path", [
    ("employer_rate = 0.08", "employer_rate = 8"),
    ("employee_rate = 0.04", "employee_rate = \"x\""),
    ('base_item = "pension"', 'base_item = "Pension!"'),
    ('source = "国办发〔2015〕18号《机关事业单位职业年金办法》第四条"', 'sauce = "x"'),
])
def test_malformed_tables_are_refused(change: str, path: str) -> None:
    text = bundled_pack_text("140000")
    assert change in text
    with pytest.raises(PackError, match="annuity"):
        parse_pack(text.replace(change, path, 1))


def test_unverified_rates_say_so() -> None:
    text = bundled_pack_text("140000").replace(
        'source = "国办发〔2015〕18号《机关事业单位职业年金办法》第四条"', 'verified = false\nnote = "待核实"', 1)
    annuity = parse_pack(text).annuity
    assert annuity is not None and not annuity.provenance.verified and annuity.provenance.note == "待核实"
