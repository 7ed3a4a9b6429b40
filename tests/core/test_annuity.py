"""年金缴款通知单 core (client/core/annuity.py, annuity_pdf.py): amounts from the pack's rates and
rounding, hostile tax-side records refused, only where the pack and the unit allow it, and the
PDF's text, page split, totals, hash and QR code."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pypdf
import pytest
import zxingcpp
from PIL import Image

from client.core import annuity, annuity_pdf
from client.core.capitals import in_words
from client.core.certificate import qr_text
from client.errors import ValidationError
from rules.packs import load_pack
from tests.core.test_certificate_pdf import png

PACK = load_pack("140000")
UNIT = {"name": "太原市示范机关事务服务中心", "taxpayer_id": "12140100MB0000001A", "unit_numbers": ["14010524638201"]}


def records(month: str, count: int, **change: Any) -> list[dict[str, Any]]:
    return [{"period": month, "item": "pension", "name": f"职工{i:03d}", "id_type": "201",
             "id_number": f"14010519900101{i:04d}", "base": f"{5000 + i * 37}.55", **change} for i in range(count)]


def test_amounts_follow_the_pack() -> None:
    p = annuity.build_period(PACK, "202503", records("202503", 3))
    first = p.rows[0]
    assert (first.base, first.employer, first.employee) == (Decimal("5000.55"), Decimal("400.04"), Decimal("200.02"))
    assert first.total == first.employer + first.employee
    assert p.total == sum(r.total for r in p.rows) == p.employer_total + p.employee_total


def test_a_second_record_of_the_same_person_counts_once() -> None:
    rows = records("202503", 2)
    p = annuity.build_period(PACK, "202503", [*rows, {**rows[0], "kind": "special"}])
    assert len(p.rows) == 2


@pytest.mark.parametrize("change, message", [
    ({"base": 5000}, "金额文本"),
    ({"base": "5000.001"}, "无效"),
    ({"base": "-1.00"}, "无效"),
    ({"base": "NaN"}, "无效"),
    ({"period": "202504"}, "不属于"),
    ({"item": "medical"}, "不属于"),
    ({"id_number": ""}, "证件号码"),
])
def test_hostile_records_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        annuity.build_period(PACK, "202503", records("202503", 2, **change))


def test_a_period_without_rules_is_refused() -> None:
    with pytest.raises(ValidationError, match="202001"):
        annuity.build_period(PACK, "202001", records("202001", 1))


def test_periods_are_bounded() -> None:
    assert annuity.check_periods("2025-01", "") == ["202501"]
    assert len(annuity.check_periods("202501", "202512")) == 12
    with pytest.raises(ValidationError, match="12"):
        annuity.check_periods("202501", "202601")


def test_pdf_reads_back_with_pages_per_period_and_the_hash() -> None:
    periods = [annuity.build_period(PACK, "202503", records("202503", 50)),
               annuity.build_period(PACK, "202504", records("202504", 3))]
    notice = annuity.notice(PACK, UNIT, periods, "王会计", dt.datetime(2026, 12, 1, 10, 0, 0))
    pdf = annuity_pdf.render(notice)
    texts = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    assert len(texts) == 3
    assert all("职业年金缴款通知单" in t and "序号" in t for t in texts)
    assert "202503" in texts[0] and "202503" in texts[1] and "202504" in texts[2]
    assert "本期合计（50 人）" in texts[1] and "本期合计（3 人）" in texts[2]
    assert "职工049" in texts[1] and "职工049" not in texts[0]
    digest = annuity.content_hash(notice)
    last = texts[-1].replace(" ", "")
    assert f"{notice.total:,.2f}" in last and in_words(notice.total) in last and digest[:32] in last
    assert digest[:32] not in texts[0].replace(" ", "")
    image = Image.open(io.BytesIO(png(pdf, page=3, dpi=150)))
    assert [c.text for c in zxingcpp.read_barcodes(image)] == [qr_text(digest)]
    other = annuity.notice(PACK, UNIT, periods[:1], "王会计", notice.printed_at)
    assert annuity.content_hash(other) != digest


def test_nobody_owes_is_no_notice() -> None:
    """0 people and 0.00 is not a notice to print, hash and record: refused, saying why."""
    empty = [annuity.build_period(PACK, m, []) for m in ("202502", "202503")]
    reason = annuity.empty_reason(empty)
    assert "202502 至 202503" in reason and "这 2 个费款所属期" in reason and "机关事业单位" in reason and "养老保险缴费基数" in reason
    with pytest.raises(ValidationError) as refused:
        annuity.notice(PACK, UNIT, empty, "王会计", dt.datetime(2026, 12, 1, 10, 0, 0))
    assert refused.value.code == "annuity_empty" and refused.value.message == reason
    with pytest.raises(ValidationError):
        annuity.notice(PACK, UNIT, [], "王会计", dt.datetime(2026, 12, 1, 10, 0, 0))
    one = [empty[0], annuity.build_period(PACK, "202503", records("202503", 1))]
    assert annuity.empty_reason(one) == ""
    assert annuity.notice(PACK, UNIT, one, "王会计", dt.datetime(2026, 12, 1, 10, 0, 0)).periods[0].rows == ()


def test_bases_of_zero_owe_nothing() -> None:
    zero = [annuity.build_period(PACK, "202503", records("202503", 2, base="0.00"))]
    reason = annuity.empty_reason(zero)
    assert "0.00 元" in reason and "2 人次" in reason and "不打印" in reason
    with pytest.raises(ValidationError):
        annuity.notice(PACK, UNIT, zero, "王会计", dt.datetime(2026, 12, 1, 10, 0, 0))


def test_too_many_periods_says_how_many() -> None:
    with pytest.raises(ValidationError) as refused:
        annuity.check_periods("202401", "202506")
    assert "最多 12 个" in refused.value.message and "已选 18 个" in refused.value.message
