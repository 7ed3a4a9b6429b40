"""换机交接: the facts of a data directory, the comparison, the 交接单 PDF read back."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pypdf
import pytest

from client.core import handover, handover_pdf, journal
from client.core.store import Store
from client.errors import ValidationError

SHA_A, SHA_B = "a" * 64, "0123456789abcdef" * 4


@pytest.fixture
def store(engine_store: Store) -> Store:
    """Each test runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    return engine_store


def add_unit(store: Store, unit_id: str, name: str, employees: int = 0) -> int:
    with store.write() as db:
        pk = db.execute_sql(
            "INSERT INTO unit (taxpayer_id, taxside_unit_id, name, region, added_at) "
            "VALUES (?, ?, ?, '110000', '2025-03-15 08:00:00') RETURNING id", (f"9111{unit_id}", unit_id, name),
        ).fetchone()[0]
        for n in range(employees):
            db.execute_sql(
                "INSERT INTO enrollment_employee (unit_id, employee_id, name, id_type, id_number, gender, "
                "birth_date, unit_number, items, status, bases, taxside_updated_at, synced_at) "
                "VALUES (?, ?, ?, '居民身份证', ?, '男', '1990-01-01', '001', '[]', '正常', '{}', '', '')",
                (pk, f"P{unit_id}{n}", f"职工{n}", f"11010119900101{n:04d}"),
            )
        journal.create(db, pk, "wage_base_daily", {"rows": []}, summary="日常申报 3 人", row_count=3,
                       operator="张三")
    return int(pk)


def test_facts_count_per_unit_and_list_open_entries(store: Store) -> None:
    first = add_unit(store, "U1", "北京甲科技有限公司", employees=3)
    add_unit(store, "U2", "北京乙商贸有限公司", employees=1)
    journal.mark_decided(store, 1, True, [])  # U1's entry decided: no longer open
    facts = handover.collect(store, handover.OLD)
    by_id = {u.unit_id: u for u in facts.units}
    assert by_id["U1"].counts == {"employees": 3, "wage_base": 1, "fee_records": 0, "vouchers": 0,
                                  "payment_records": 0, "journal": 1}
    assert by_id["U2"].counts["employees"] == 1
    assert [(e.unit_name, e.kind_label, e.state_label) for e in facts.open_entries] == [
        ("北京乙商贸有限公司", "日常缴费工资申报", "待提交")]
    assert first == 1


def test_backup_facts_hash_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "b.sfbak"
    path.write_bytes(b"x" * 3_000_000)
    facts = handover.backup_facts(path, "2025-03-15T08:00:00.000", SHA_B)
    import hashlib
    assert facts.sha256 == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert (facts.name, facts.size, facts.database_sha256) == ("b.sfbak", 3_000_000, SHA_B)


def sample(store: Store) -> handover.Facts:
    add_unit(store, "U1", "北京甲科技有限公司", employees=2)
    backup = handover.BackupFacts("socialfee-1.sfbak", 4096, SHA_A, SHA_B, "2025-03-15T08:00:00.000")
    return handover.collect(store, handover.OLD, backup, printed_at="2025-03-15 09:00:00")


def test_json_round_trip_and_comparison_all_same(store: Store, tmp_path: Path) -> None:
    old = sample(store)
    path = handover.save_json(old, tmp_path / "x.sfbak.handover.json")
    assert handover.load(path) == old
    new = handover.collect(store, handover.NEW)
    result = handover.compare(old, new, SHA_A)
    assert result.all_same and result.different == 0
    items = [(r.unit, r.item) for r in result.rows]
    assert ("北京甲科技有限公司", "职工参保信息") in items and ("", "未办结的申报") in items


def test_comparison_names_what_differs(store: Store) -> None:
    old = sample(store)
    new = handover.collect(store, handover.NEW)
    unit = new.units[0]
    tampered = handover.UnitFacts(unit.unit_id, unit.name, unit.taxpayer_id, {**unit.counts, "employees": 1})
    extra = handover.UnitFacts("U9", "多出来的单位", "x", dict.fromkeys(unit.counts, 0))
    new = handover.Facts(new.side, new.printed_at, new.app_version, (tampered, extra), new.open_entries)
    result = handover.compare(old, new, None)
    wrong = {(r.item, r.old, r.new) for r in result.rows if not r.same}
    assert ("职工参保信息", "2", "1") in wrong
    assert ("单位", "（没有这个单位）", "多出来的单位") in wrong
    assert ("备份文件校验值（socialfee-1.sfbak）", SHA_A, "（新电脑上没有找到这个备份文件）") in wrong
    assert result.different == 3 and not result.all_same
    assert result.to_dict()["rows"][1]["result"] == "不一致"


def test_pdf_text_font_and_facts_read_back(store: Store) -> None:
    old = sample(store)
    new = handover.collect(store, handover.NEW, printed_at="2025-03-16 10:00:00")
    result = handover.compare(old, new, SHA_A)
    pdf = handover_pdf.render(new, result, old=old)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "".join(p.extract_text() for p in reader.pages)
    for words in ("社保费客户端换机交接单", "原电脑（交接）的数据", "新电脑（接收）的数据", "北京甲科技有限公司",
                  "交接人（签字）", "接收人（签字）", "核对结果：全部一致", SHA_A, SHA_B, "2025-03-16 10:00:00"):
        assert words in text, words
    fonts = {
        str(f["/BaseFont"]) for page in reader.pages
        for f in page["/Resources"]["/Font"].get_object().values()
    }
    assert any("WenQuanYi" in name or "MicroHei" in name for name in fonts), fonts
    assert all("/FontFile2" in f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
               for page in reader.pages for f in page["/Resources"]["/Font"].get_object().values()
               if "/DescendantFonts" in f.get_object())
    # The new PC's facts travel inside the PDF: read back from the bytes and by pypdf.
    assert handover.parse(pdf) == new
    keywords = str(reader.metadata["/Keywords"])
    assert json.loads(base64.b64decode(keywords.removeprefix(handover.PDF_MARK)))["side"] == "new"


def test_old_sheet_lists_open_entries_and_backup(store: Store) -> None:
    old = sample(store)
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(handover_pdf.render(old))).pages)
    assert "未办结的申报：1 笔" in text and "日常缴费工资申报" in text and "待提交" in text
    assert "socialfee-1.sfbak" in text and "4.0 KB（4096 字节）" in text


@pytest.mark.parametrize("raw, why", [
    (b"not json", "不是有效的 JSON"),
    (b'{"format": "other"}', "不是 socialfee 换机交接文件"),
    (b"%PDF-1.4 nothing here", "不是本程序打印的交接单"),
    (b"x" * (handover.MAX_BYTES + 1), "文件太大"),
])
def test_hostile_files_are_refused_in_chinese(raw: bytes, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        handover.parse(raw)


def test_hostile_fields_are_refused(store: Store) -> None:
    data = sample(store).to_dict()
    for bad in (
        {"units": [{"unit_id": "U1", "name": "甲", "taxpayer_id": "x", "counts": {"employees": -1}}]},
        {"units": "many"},
        {"backup": {**data["backup"], "sha256": "not-a-sha"}},
        {"open_entries": [{"unit_name": "x" * 5000}]},
        {"side": "elsewhere"},
    ):
        with pytest.raises(ValidationError, match="交接文件无法读取"):
            handover.from_dict({**data, **bad})


def test_long_sheet_breaks_pages_and_keeps_every_entry(store: Store) -> None:
    pk = add_unit(store, "U1", "北京甲科技有限公司")
    with store.write() as db:
        for n in range(119):
            journal.create(db, pk, "fee_declaration", {}, summary=f"第{n + 2}笔社保费申报", row_count=1, operator="张三")
    facts = handover.collect(store, handover.OLD, printed_at="2025-03-15 09:00:00")
    reader = pypdf.PdfReader(io.BytesIO(handover_pdf.render(facts)))
    text = "".join(p.extract_text() for p in reader.pages)
    assert len(reader.pages) >= 3 and f"第 {len(reader.pages)} 页" in text
    assert "第120笔社保费申报" in text and "交接人（签字）" in reader.pages[-1].extract_text()
    assert all("申报类型" in p.extract_text() for p in reader.pages[1:-1])  # the header on every page
