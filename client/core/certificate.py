"""职工缴费证明 (manual 3.1.7 "职工缴费证明打印"): one employee's contributions to this unit over a
period range, as the tax side holds them, to print (client/core/certificate_pdf.py) or export.

Pure data and the local record of what was printed. Each employee's part of a certificate
carries a verification value: the SHA-256 of a canonical serialisation of exactly what is
printed for them (the unit, the person, the range, every row, the totals, the print time), as
hex and as a QR code. A copy brought back later is checked against ``certificate_record``:
this client printed it, for whom, when and by whom.

The tax side's answer is hostile until checked: amounts are exact decimals in cents, totals
must equal the rows, periods are ``YYYYMM`` inside the range asked for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from client.core import xlsx
from client.core.enrollment import ID_TYPES
from client.core.store import Store
from client.errors import ValidationError
from rules.periods import months_between, parse_period

TITLE = "职工社会保险缴费证明"
MARK = "本证明由 socialfee 根据税务端数据打印"
QR_PREFIX = "SOCIALFEE-CERT:"
MAX_MONTHS = 120  # the tax side answers at most 10 years at once
MAX_PERSONS = 50  # one print: a page (or pages) per employee
STATE_LABELS = {"paid": "已缴", "unpaid": "未缴", "partial": "部分已缴"}
HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
PERIOD = re.compile(r"\d{4}(0[1-9]|1[0-2])")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ContributionRow:
    """One month and item of one person, as the tax side states it."""

    period: str  # YYYYMM
    item: str
    item_name: str
    kind_label: str  # 正常 / 补缴 / 退休补收
    unit_number: str
    base: Decimal
    employer: Decimal | None  # None: the item has no employer part
    employee: Decimal | None
    total: Decimal
    state: str  # paid / unpaid / partial
    paid_at: str | None

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def paid_on(self) -> str:
        return (self.paid_at or "")[:10]

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "item": self.item, "item_name": self.item_name, "kind_label": self.kind_label,
                "unit_number": self.unit_number, "base": _text(self.base), "employer": _opt(self.employer),
                "employee": _opt(self.employee), "total": _text(self.total), "state": self.state,
                "state_label": self.state_label, "paid_on": self.paid_on}


@dataclass(frozen=True)
class PersonContributions:
    name: str
    id_type: str
    id_number: str
    unit_number: str
    period_from: str
    period_to: str
    rows: tuple[ContributionRow, ...]
    employer_total: Decimal
    employee_total: Decimal
    total: Decimal

    def __post_init__(self) -> None:
        check_person(self)

    @property
    def id_type_name(self) -> str:
        return ID_TYPES.get(self.id_type, self.id_type)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id_type": self.id_type, "id_type_name": self.id_type_name,
                "id_number": self.id_number, "unit_number": self.unit_number, "period_from": self.period_from,
                "period_to": self.period_to, "rows": [r.to_dict() for r in self.rows], "count": len(self.rows),
                "months": len({r.period for r in self.rows}), "employer_total": _text(self.employer_total),
                "employee_total": _text(self.employee_total), "total": _text(self.total)}


@dataclass(frozen=True)
class CertificateDoc:
    """What one print shows: the unit, when, and each chosen employee's contributions."""

    unit_name: str
    taxpayer_id: str
    unit_numbers: tuple[str, ...]
    printed_at: dt.datetime
    operator: str
    persons: tuple[PersonContributions, ...]


def _text(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else _text(value)


def _cents(value: object, what: str, row: int | None = None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise ValidationError(f"{what}不是精确的金额", row=row)
    try:
        exact = value.is_finite() and value >= 0 and value == value.quantize(CENT)
    except InvalidOperation:
        exact = False
    if not exact:
        raise ValidationError(f"{what}不是有效的金额：{value}", row=row)
    return value


def check_range(period_from: str, period_to: str) -> tuple[str, str]:
    """``YYYYMM`` bounds as the operator typed them (YYYYMM or YYYY-MM), from <= to, <= 10 years."""
    try:
        start, end = parse_period(str(period_from or "").strip()), parse_period(str(period_to or "").strip())
    except ValueError:
        raise ValidationError("费款所属期应为 YYYYMM 格式，如 202501", field="period_from") from None
    if start > end:
        raise ValidationError("费款所属期起不能晚于费款所属期止", field="period_from")
    if (chosen := months_between(start, end) + 1) > MAX_MONTHS:
        raise ValidationError(f"一次最多打印 {MAX_MONTHS} 个月（10 年）的缴费证明，已选 {chosen} 个月"
                              f"（{start} 至 {end}）", field="period_to")
    return str(start), str(end)


def check_person(p: PersonContributions) -> None:
    """Refuse what cannot be printed truthfully: the employee hands this to others."""
    for name, label in (("name", "姓名"), ("id_type", "证件类型"), ("id_number", "证件号码")):
        value = getattr(p, name)
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"缴费记录缺少{label}", field=name)
    for bound in (p.period_from, p.period_to):
        if not isinstance(bound, str) or not PERIOD.fullmatch(bound):
            raise ValidationError(f"费款所属期不是 YYYYMM：{bound!r}", field="period_from")
    sums = [ZERO, ZERO]
    for n, r in enumerate(p.rows, start=1):
        who = f"{p.name} 第 {n} 行"
        if not isinstance(r, ContributionRow):
            raise ValidationError(f"{who}不是缴费记录", row=n)
        if not PERIOD.fullmatch(str(r.period)) or not p.period_from <= r.period <= p.period_to:
            raise ValidationError(f"{who}的费款所属期 {r.period!r} 不在 {p.period_from}-{p.period_to} 内", row=n,
                                  field="period")
        _cents(r.base, f"{who}的缴费基数", n)
        er = _cents(r.employer, f"{who}的单位缴费", n) if r.employer is not None else ZERO
        ee = _cents(r.employee, f"{who}的个人缴费", n) if r.employee is not None else ZERO
        if _cents(r.total, f"{who}的合计", n) != er + ee:
            raise ValidationError(f"{who}的合计 {r.total} 不等于单位缴费加个人缴费", row=n, field="total")
        if r.state not in STATE_LABELS:
            raise ValidationError(f"{who}的缴费状态无法识别：{r.state!r}", row=n, field="state")
        sums[0] += er
        sums[1] += ee
    for got, want, label in ((p.employer_total, sums[0], "单位缴费合计"), (p.employee_total, sums[1], "个人缴费合计"),
                             (p.total, sums[0] + sums[1], "缴费合计")):
        if _cents(got, f"{p.name}的{label}") != want:
            raise ValidationError(f"{p.name}的{label} {got} 与明细之和 {want} 不符", field="total")


def person_from_answer(data: Any) -> PersonContributions:
    """The tax side's ``/contributions`` answer (docs/protocol.md) as checked data."""
    def money(value: Any) -> Decimal:
        if not isinstance(value, str):  # money is text in the protocol
            raise TypeError("money is not text")
        return Decimal(value)

    def opt(value: Any) -> Decimal | None:
        return None if value is None else money(value)

    person = data["person"]
    rows = tuple(ContributionRow(
        period=str(r["period"]), item=str(r["item"]), item_name=str(r["item_name"]),
        kind_label=str(r.get("kind_label") or "正常"), unit_number=str(r.get("unit_number") or ""),
        base=money(r["base"]), employer=opt(r.get("employer_amount")), employee=opt(r.get("employee_amount")),
        total=money(r["total"]), state=str(r["state"]),
        paid_at=str(r["paid_at"]) if r.get("paid_at") else None,
    ) for r in data["items"])
    totals = data["totals"]
    return PersonContributions(
        name=str(person["name"]), id_type=str(person["id_type"]), id_number=str(person["id_number"]),
        unit_number=str(person.get("unit_number") or ""), period_from=str(data["period_from"]),
        period_to=str(data["period_to"]), rows=rows, employer_total=money(totals["employer"]),
        employee_total=money(totals["employee"]), total=money(totals["total"]),
    )


# -- verification -------------------------------------------------------------------------------
def canonical(doc: CertificateDoc, person: PersonContributions) -> bytes:
    """The content one employee's pages show, serialised one way only (sorted keys, no spaces,
    UTF-8, amounts as fixed two-decimal text): its SHA-256 is the verification value."""
    content = {
        "v": 1, "title": TITLE, "mark": MARK,
        "unit": {"name": doc.unit_name, "taxpayer_id": doc.taxpayer_id, "unit_numbers": list(doc.unit_numbers)},
        "printed_at": doc.printed_at.replace(microsecond=0).isoformat(),
        "person": {"name": person.name, "id_type": person.id_type, "id_number": person.id_number},
        "period_from": person.period_from, "period_to": person.period_to,
        "rows": [[r.period, r.item, r.item_name, r.kind_label, _text(r.base), _opt(r.employer), _opt(r.employee),
                  _text(r.total), r.state, r.paid_on] for r in person.rows],
        "totals": [_text(person.employer_total), _text(person.employee_total), _text(person.total)],
    }
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def content_hash(doc: CertificateDoc, person: PersonContributions) -> str:
    return hashlib.sha256(canonical(doc, person)).hexdigest()


def qr_text(digest: str) -> str:
    return QR_PREFIX + digest


def find_hash(text: str) -> str:
    """The SHA-256 in what the operator pasted: the hex line, or the QR code's text."""
    found = HEX64.findall(str(text or ""))
    if len(found) != 1:
        raise ValidationError("请粘贴证明上的 64 位核验码（SHA-256）或二维码内容", field="text")
    return found[0].lower()


@dataclass(frozen=True)
class PrintRecord:
    sha256: str
    kind: str  # certificate / annuity
    unit_name: str
    name: str
    id_type: str
    id_number: str
    period_from: str
    period_to: str
    rows: int
    total: str
    printed_at: str
    operator: str
    pdf_name: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "kind_label": "年金缴款通知单" if self.kind == "annuity" else "职工缴费证明",
                "id_type_name": ID_TYPES.get(self.id_type, self.id_type)}


RECORD_COLUMNS = ("sha256, kind, unit_name, name, id_type, id_number, period_from, period_to, rows, total,"
                  " printed_at, operator, pdf_name")


def record(store: Store, unit_pk: int, entries: Iterable[PrintRecord]) -> None:
    """Keep what was printed; the same content printed again in the same second is one record."""
    rows = [(unit_pk, e.sha256, e.kind, e.unit_name, e.name, e.id_type, e.id_number, e.period_from,
             e.period_to, e.rows, e.total, e.printed_at, e.operator, e.pdf_name) for e in entries]
    with store.write():
        store.db.executemany(
            f"INSERT INTO certificate_record (unit_id, {RECORD_COLUMNS})"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (sha256) DO NOTHING", rows)


def print_record(doc: CertificateDoc, person: PersonContributions, pdf_name: str) -> PrintRecord:
    return PrintRecord(content_hash(doc, person), "certificate", doc.unit_name, person.name, person.id_type,
                       person.id_number, person.period_from, person.period_to, len(person.rows),
                       _text(person.total), doc.printed_at.replace(microsecond=0).isoformat(), doc.operator,
                       pdf_name)


def verify(store: Store, text: str) -> tuple[str, PrintRecord | None]:
    """(the hash asked about, this client's record of it or None)."""
    digest = find_hash(text)
    row = store.db.execute_sql(
        f"SELECT {RECORD_COLUMNS} FROM certificate_record WHERE sha256 = ? ORDER BY id LIMIT 1", (digest,)
    ).fetchone()
    return digest, PrintRecord(*row) if row else None


def printed_here(store: Store, unit_pk: int, pdf_name: str) -> bool:
    """Whether this unit printed ``pdf_name``: the PDFs of all units share one folder, and one
    unit's operator must not open another's (the record is the tie, also for older prints)."""
    row = store.db.execute_sql(
        "SELECT 1 FROM certificate_record WHERE unit_id = ? AND pdf_name = ? LIMIT 1", (unit_pk, pdf_name)
    ).fetchone()
    return row is not None


def recent(store: Store, unit_pk: int, limit: int = 20) -> list[PrintRecord]:
    rows = store.db.execute_sql(
        f"SELECT {RECORD_COLUMNS} FROM certificate_record WHERE unit_id = ? ORDER BY id DESC LIMIT ?",
        (unit_pk, limit),
    ).fetchall()
    return [PrintRecord(*r) for r in rows]


# -- export -------------------------------------------------------------------------------------
COLUMNS = (
    xlsx.text("姓名", 12), xlsx.text("证件类型", 14), xlsx.code("证件号码", 22), xlsx.code("费款所属期", 11),
    xlsx.text("险种", 22), xlsx.text("类型", 8), xlsx.code("社保单位编号", 18), xlsx.amount("缴费基数"),
    xlsx.amount("单位缴费"), xlsx.amount("个人缴费"), xlsx.amount("合计"), xlsx.text("缴费状态", 10),
    xlsx.code("缴费日期", 12),
)


def export_rows(persons: Sequence[PersonContributions]) -> Iterable[list[Any]]:
    """One row per month and item, then each person's 合计 row; amounts as numbers."""
    for p in persons:
        for r in p.rows:
            yield [p.name, p.id_type_name, p.id_number, r.period, r.item_name, r.kind_label, r.unit_number,
                   r.base, r.employer, r.employee, r.total, r.state_label, r.paid_on]
        yield [p.name, p.id_type_name, p.id_number, f"{p.period_from}-{p.period_to}", "合计", "", "", None,
               p.employer_total, p.employee_total, p.total, "", ""]


def export_xlsx(persons: Sequence[PersonContributions], target: Path) -> int:
    return xlsx.write_xlsx(target, "职工缴费证明", COLUMNS, export_rows(persons))
