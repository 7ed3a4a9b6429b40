"""换机交接: the facts a 交接单 states, and the comparison of two of them.

On the old PC the facts are taken after settling and backing up: per unit the counts of
what the operator cares about, the journal's entries still open, and the backup file
(name, size, SHA-256 of the whole file, SHA-256 of the database from its manifest). They
are saved as ``<backup>.handover.json`` beside the backup and embedded in the PDF, so the
new PC takes the same facts from its restored data and compares them row by row.

A handover file comes from another PC: it is parsed as hostile input (size, counts,
types and lengths checked) and a wrong shape is a Chinese message, never a traceback.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from client import __version__
from client.core import journal
from client.core.store import Store
from client.core.tables import TABLE_LABELS
from client.errors import ValidationError

FORMAT = "socialfee-handover"
VERSION = 1
SUFFIX = ".handover.json"
OLD, NEW = "old", "new"
SIDE_LABELS = {OLD: "原电脑（交接）", NEW: "新电脑（接收）"}
# What is counted per unit, in the order of the sheet's columns.
COUNTS = (
    ("employees", TABLE_LABELS["enrollment_employee"]),
    ("wage_base", "缴费工资申报"),
    ("fee_records", TABLE_LABELS["fee_record"]),
    ("vouchers", "缴款凭证"),
    ("payment_records", TABLE_LABELS["payment_record"]),
    ("journal", TABLE_LABELS["submission"]),
)
COUNT_LABELS = dict(COUNTS)
_COUNT_SQL = {
    "employees": "SELECT count(*) FROM enrollment_employee WHERE unit_id = ? AND removed = 0",
    "wage_base": "SELECT count(*) FROM submission WHERE unit_id = ? AND kind LIKE 'wage_base_%'",
    "fee_records": "SELECT count(*) FROM fee_record WHERE unit_id = ?",
    "vouchers": "SELECT count(*) FROM payment_voucher WHERE unit_id = ?",
    "payment_records": "SELECT count(*) FROM payment_record WHERE unit_id = ?",
    "journal": "SELECT count(*) FROM submission WHERE unit_id = ?",
}
# Bounds for a file from another PC (a real one is a few KB).
MAX_BYTES = 2 * 1024 * 1024
MAX_UNITS, MAX_ENTRIES, MAX_TEXT = 1000, 5000, 400
SHA256 = re.compile(r"[0-9a-f]{64}")
# The facts ride in the PDF's Keywords as base64 (no PDF escaping can touch it).
PDF_MARK = "socialfee-handover:"
_PDF_FACTS = re.compile(rb"socialfee-handover:([A-Za-z0-9+/=]{16,2800000})")
SAME, DIFFERENT = "一致", "不一致"


@dataclass(frozen=True)
class UnitFacts:
    unit_id: str  # the tax side's id: the key that matches a unit across PCs
    name: str
    taxpayer_id: str
    counts: dict[str, int]


@dataclass(frozen=True)
class OpenEntry:
    unit_id: str
    unit_name: str
    kind_label: str
    state_label: str
    summary: str
    created_at: str
    reason: str = ""  # why it is still open (filled in by the settle step)


@dataclass(frozen=True)
class BackupFacts:
    name: str
    size: int
    sha256: str  # of the whole backup file: the new PC checks the file it received
    database_sha256: str  # from the manifest ("" when encrypted and no password given)
    created_at: str


@dataclass(frozen=True)
class Facts:
    side: str
    printed_at: str
    app_version: str
    units: tuple[UnitFacts, ...]
    open_entries: tuple[OpenEntry, ...]
    backup: BackupFacts | None = None
    data_dir: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, **asdict(self), "side_label": SIDE_LABELS[self.side]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


@dataclass(frozen=True)
class CompareRow:
    unit: str  # unit name ("" for rows about the whole PC)
    item: str
    old: str
    new: str

    @property
    def same(self) -> bool:
        return self.old == self.new

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "same": self.same, "result": SAME if self.same else DIFFERENT}


@dataclass(frozen=True)
class Comparison:
    rows: tuple[CompareRow, ...] = field(default_factory=tuple)

    @property
    def all_same(self) -> bool:
        return all(r.same for r in self.rows)

    @property
    def different(self) -> int:
        return sum(not r.same for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows], "all_same": self.all_same, "different": self.different}


# -- the facts of this PC ----------------------------------------------------------------------
def now_text() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


def open_entries(store: Store) -> list[OpenEntry]:
    """Every journal entry not yet decided, of every unit on this PC, oldest first."""
    rows = store.db.execute_sql("SELECT id, taxside_unit_id, name FROM unit ORDER BY id").fetchall()
    found = []
    for pk, unit_id, name in rows:
        for e in journal.entries(store, pk, journal.OPEN_STATES):
            found.append(OpenEntry(unit_id, name, e.kind_label, e.state_label, e.summary, e.created_at))
    return found


def collect(store: Store, side: str, backup: BackupFacts | None = None, *, data_dir: str = "",
            printed_at: str | None = None) -> Facts:
    """The facts of this PC's data (units not removed; their open entries)."""
    units = []
    rows = store.db.execute_sql(
        "SELECT id, taxside_unit_id, name, taxpayer_id FROM unit WHERE removed_at IS NULL ORDER BY id"
    ).fetchall()
    for pk, unit_id, name, taxpayer_id in rows:
        counts = {key: int(store.db.execute_sql(sql, (pk,)).fetchone()[0]) for key, sql in _COUNT_SQL.items()}
        units.append(UnitFacts(unit_id, name, taxpayer_id, counts))
    return Facts(side, printed_at or now_text(), __version__, tuple(units), tuple(open_entries(store)), backup,
                 data_dir)


def with_reasons(facts: Facts, reasons: dict[tuple[str, str, str], str]) -> Facts:
    """The open entries with the reason the settle step gave for each (unknown: none)."""
    entries = tuple(
        replace(e, reason=reasons.get((e.unit_id, e.created_at, e.summary), e.reason)) for e in facts.open_entries
    )
    return replace(facts, open_entries=entries)


def backup_facts(path: Path, created_at: str, database_sha256: str,
                 progress: Callable[[int], None] = lambda n: None) -> BackupFacts:
    """Name, size and SHA-256 of a backup file (read once, in 1 MB pieces)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            progress(len(chunk))
    return BackupFacts(path.name, path.stat().st_size, digest.hexdigest(), database_sha256, created_at)


def json_path(backup: Path) -> Path:
    return backup.with_name(backup.name + SUFFIX)


def save_json(facts: Facts, path: Path) -> Path:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(facts.to_json(), encoding="utf-8")
    partial.replace(path)
    return path


def pdf_keywords(facts: Facts) -> str:
    return PDF_MARK + base64.b64encode(json.dumps(facts.to_dict(), ensure_ascii=False).encode()).decode()


# -- a handover file from another PC (hostile) -------------------------------------------------
def _bad(why: str) -> ValidationError:
    return ValidationError(f"交接文件无法读取：{why}。请选择旧电脑上生成的 .handover.json 或交接单 PDF。",
                           field="file", code="handover_invalid")


def _text(value: Any, what: str, *, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise _bad(f"{what}不是有效的文字")
    return value


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**12:
        raise _bad(f"{what}不是有效的数量")
    return value


def _list(value: Any, what: str, limit: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise _bad(f"{what}的条数不正确")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what}格式不正确")
    return value


def _sha(value: Any, what: str, *, empty: bool = False) -> str:
    text = _text(value, what, limit=64)
    if not (SHA256.fullmatch(text) or (empty and text == "")):
        raise _bad(f"{what}不是 SHA-256 校验值")
    return text


def from_dict(data: Any) -> Facts:
    data = _dict(data, "文件内容")
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise _bad("这不是 socialfee 换机交接文件，或者版本不对")
    side = data.get("side")
    if side not in SIDE_LABELS:
        raise _bad("交接方不正确")
    units = []
    for u in _list(data.get("units"), "单位", MAX_UNITS):
        u = _dict(u, "单位")
        counts = _dict(u.get("counts"), "单位的数量")
        units.append(UnitFacts(
            _text(u.get("unit_id"), "单位编号", limit=64), _text(u.get("name"), "单位名称"),
            _text(u.get("taxpayer_id"), "纳税人识别号", limit=64),
            {key: _count(counts.get(key), label) for key, label in COUNTS},
        ))
    entries = []
    for e in _list(data.get("open_entries"), "未办结的申报", MAX_ENTRIES):
        e = _dict(e, "未办结的申报")
        entries.append(OpenEntry(*(_text(e.get(k, ""), "未办结的申报") for k in (
            "unit_id", "unit_name", "kind_label", "state_label", "summary", "created_at", "reason"))))
    backup = None
    if data.get("backup") is not None:
        b = _dict(data["backup"], "备份")
        backup = BackupFacts(
            _text(b.get("name"), "备份文件名"), _count(b.get("size"), "备份大小"),
            _sha(b.get("sha256"), "备份文件校验值"),
            _sha(b.get("database_sha256"), "数据库校验值", empty=True), _text(b.get("created_at"), "备份时间", limit=40),
        )
    return Facts(side, _text(data.get("printed_at"), "打印时间", limit=40), _text(data.get("app_version"), "程序版本",
                 limit=40), tuple(units), tuple(entries), backup, _text(data.get("data_dir", ""), "数据目录"))


def load(path: Path) -> Facts:
    """The facts of a ``.handover.json`` or of a 交接单 PDF made by this program."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise _bad(f"文件太大（{size} 字节）")
        raw = path.read_bytes()
    except OSError as exc:
        raise _bad(f"无法打开文件（{exc.strerror or exc}）") from exc
    return parse(raw)


def parse(raw: bytes) -> Facts:
    if len(raw) > MAX_BYTES:
        raise _bad("文件太大")
    if raw.startswith(b"%PDF"):
        found = _PDF_FACTS.search(raw)
        if found is None:
            raise _bad("这份 PDF 不是本程序打印的交接单")
        try:
            raw = base64.b64decode(found.group(1), validate=True)
        except ValueError as exc:
            raise _bad("交接单中的数据已损坏") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad("内容不是有效的 JSON") from exc
    return from_dict(data)


# -- old against new ---------------------------------------------------------------------------
def compare(old: Facts, new: Facts, received_sha256: str | None = None) -> Comparison:
    """Row by row: each unit's counts, the open entries, and the backup file's checksum
    (``received_sha256``: of the file with the backup's name on the new PC; None: not found)."""
    rows: list[CompareRow] = []
    mine = {u.unit_id: u for u in new.units}
    for unit in old.units:
        other = mine.pop(unit.unit_id, None)
        rows.append(CompareRow(unit.name, "单位", unit.name, other.name if other else "（没有这个单位）"))
        for key, label in COUNTS:
            rows.append(CompareRow(unit.name, label, str(unit.counts[key]),
                                   str(other.counts[key]) if other else "（无）"))
    for extra in mine.values():  # only on the new PC: not what was handed over
        rows.append(CompareRow(extra.name, "单位", "（没有这个单位）", extra.name))
    rows.append(CompareRow("", "未办结的申报", str(len(old.open_entries)), str(len(new.open_entries))))
    if old.backup is not None:
        found = "（新电脑上没有找到这个备份文件）" if received_sha256 is None else received_sha256
        rows.append(CompareRow("", f"备份文件校验值（{old.backup.name}）", old.backup.sha256, found))
    return Comparison(tuple(rows))
