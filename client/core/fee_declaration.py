"""社保费申报 (manual 3.1.6): the summaries of a unit, declaring them, records and voids.

The tax side pre-processes each fee period into summaries (预处理汇总: unit number x item x
part). The page lists the summaries last fetched (``fee_summary``, replaced on each
refresh); declaring writes a journal entry naming the chosen summaries and the versions
seen (client/core/journal.py; the one sender sends it). Records (申报记录) are the tax
side's records of every channel (``fee_record``: 申报成功 / 已作废, upserted by the tax side's
id) merged with the journal's entries not decided yet or refused (待提交 / 待反馈 / 申报失败 /
待确认): one row per declaration, a journal entry linked to its record by the tax side's id.
A successful, unpaid declaration can be voided (作废): another journal entry.

Nothing here talks to the tax side: client/sync/fee_declaration.py fetches and calls the
``save_*`` / ``apply_*`` functions, which take plain mappings in the protocol's shape.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import peewee

from client.core import journal
from client.core.paging import Page, PageRequest
from client.core.store import Store
from client.errors import ConflictError, NotFoundError, ValidationError

DECLARATION, VOID = "fee_declaration", "fee_void"
KINDS = (DECLARATION, VOID)
SUMMARY_KIND_LABELS = {"daily": "日常申报", "special": "特殊缴费申报"}
SUMMARY_STATE_LABELS = {"pending": "待申报", "declared": "已申报"}
ACCEPTED, VOIDED = "accepted", "voided"  # record statuses from the tax side
RECORD_STATUS_LABELS = {
    **{s: journal.STATE_LABELS[s] for s in (journal.QUEUED, journal.SENDING, journal.AWAITING,
                                            journal.REJECTED, journal.UNKNOWN)},
    ACCEPTED: "申报成功",
    VOIDED: "已作废",
}
MAX_SUMMARIES = 1000  # per declaration (protocol)
MAX_REASON = 100

_SUMMARY_FIELDS = (
    "summary_id", "kind", "special_type", "unit_number", "agency", "item", "item_name", "part",
    "part_name", "period_from", "period_to", "headcount", "base_total", "amount", "version",
    "computed_at", "pack_version", "state", "declaration_id", "has_details",
)
_RECORD_FIELDS = (
    "declaration_id", "channel", "status", "received_at", "decided_at", "declared_on",
    "summary_count", "total_amount", "summaries", "arrears", "voided_at", "void_id", "synced_at",
)


def _now() -> str:
    return journal.now_text()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# -- summaries -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    summary_id: str
    kind: str
    special_type: str | None
    unit_number: str
    agency: str
    item: str
    item_name: str
    part: str
    part_name: str
    period_from: str
    period_to: str
    headcount: int
    base_total: Decimal
    amount: Decimal
    version: int
    computed_at: str
    pack_version: str
    state: str
    declaration_id: str | None
    has_details: bool
    fetched_at: str
    submitted: bool = False  # an open journal entry already declares it

    @property
    def period_label(self) -> str:
        if self.period_from == self.period_to:
            return self.period_from
        return f"{self.period_from}-{self.period_to}"

    @property
    def label(self) -> str:
        """How messages name it: 基本养老保险 单位缴纳部分 202503（11010524638201）."""
        return f"{self.item_name} {self.part_name} {self.period_label}（{self.unit_number}）"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            base_total=str(self.base_total), amount=str(self.amount), period_label=self.period_label,
            kind_label=SUMMARY_KIND_LABELS.get(self.kind, self.kind),
            state_label="已提交申报" if self.submitted else SUMMARY_STATE_LABELS.get(self.state, self.state),
        )
        return data


@dataclass(frozen=True)
class SummaryFilter:
    """查询: 单位编号, 社保经办机构 (exact), 费款所属期 (YYYYMM within the summary's range)."""

    unit_number: str = ""
    agency: str = ""
    period: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> SummaryFilter:
        period = (args.get("period") or "").strip()
        if period:
            try:
                dt.datetime.strptime(period, "%Y%m")
            except ValueError:
                raise ValidationError("费款所属期格式应为 YYYYMM（如 202503）", field="period") from None
        return cls((args.get("unit_number") or "").strip(), (args.get("agency") or "").strip(), period)


_SUMMARY_COLUMNS = ", ".join((*_SUMMARY_FIELDS, "fetched_at"))


def _summary(row: Sequence[Any], submitted: set[str]) -> Summary:
    values = dict(zip((*_SUMMARY_FIELDS, "fetched_at"), row, strict=True))
    values.update(base_total=Decimal(values["base_total"]), amount=Decimal(values["amount"]),
                  has_details=bool(values["has_details"]))
    return Summary(**values, submitted=values["summary_id"] in submitted)


def save_summaries(store: Store, unit_pk: int, kind: str, summaries: Iterable[Mapping[str, Any]]) -> int:
    """Replace the unit's cached summaries of ``kind`` by what the tax side just listed."""
    now = _now()
    rows = [
        (unit_pk, *(_cell(s[name]) for name in _SUMMARY_FIELDS), now) for s in summaries
    ]
    with store.write() as db:
        db.execute_sql("DELETE FROM fee_summary WHERE unit_id = ? AND kind = ?", (unit_pk, kind))
        db.executemany(
            f"INSERT INTO fee_summary (unit_id, {_SUMMARY_COLUMNS}) "
            f"VALUES ({', '.join('?' for _ in range(len(_SUMMARY_FIELDS) + 2))})",
            rows,
        )
        # Details of versions no longer listed are of no use to the check or the page.
        db.execute_sql(
            "DELETE FROM fee_summary_detail WHERE unit_id = ? AND NOT EXISTS (SELECT 1 FROM fee_summary s "
            "WHERE s.unit_id = fee_summary_detail.unit_id AND s.summary_id = fee_summary_detail.summary_id "
            "AND s.version = fee_summary_detail.version)",
            (unit_pk,),
        )
    return len(rows)


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _submitted(store: Store, unit_pk: int) -> set[str]:
    """Summary ids named by open (not yet decided) declaration entries."""
    out: set[str] = set()
    for entry in journal.entries(store, unit_pk, journal.OPEN_STATES, (DECLARATION,)):
        out.update(s["summary_id"] for s in journal.payload(store, entry.id)["summaries"])
    return out


def summaries(store: Store, unit_pk: int, kind: str = "daily", filters: SummaryFilter | None = None) -> list[Summary]:
    """The cached summaries of a unit, ordered as the tax side lists them (by id)."""
    if kind not in SUMMARY_KIND_LABELS:
        raise ValidationError("申报类型不正确", field="kind")
    filters = filters or SummaryFilter()
    sql = f"SELECT {_SUMMARY_COLUMNS} FROM fee_summary WHERE unit_id = ? AND kind = ?"
    params: list[Any] = [unit_pk, kind]
    if filters.unit_number:
        sql += " AND unit_number = ?"
        params.append(filters.unit_number)
    if filters.agency:
        sql += " AND agency = ?"
        params.append(filters.agency)
    if filters.period:
        sql += " AND period_from <= ? AND period_to >= ?"
        params += [filters.period, filters.period]
    submitted = _submitted(store, unit_pk)
    return [_summary(r, submitted) for r in store.db.execute_sql(sql + " ORDER BY summary_id", params)]


def summaries_by_id(store: Store, unit_pk: int, summary_ids: Sequence[str]) -> list[Summary]:
    """The chosen summaries in the order given; unknown ids are an error naming the id."""
    ids = [str(s).strip() for s in summary_ids]
    if not ids:
        raise ValidationError("请选择要申报的汇总数据", field="summary_ids")
    found: dict[str, Summary] = {}
    submitted = _submitted(store, unit_pk)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = store.db.execute_sql(
            f"SELECT {_SUMMARY_COLUMNS} FROM fee_summary WHERE unit_id = ? "
            f"AND summary_id IN ({', '.join('?' for _ in chunk)})",
            [unit_pk, *chunk],
        )
        found.update((s.summary_id, s) for s in (_summary(r, submitted) for r in rows))
    for n, sid in enumerate(ids, start=1):
        if sid not in found:
            raise NotFoundError(f"第{n}条：未找到预处理汇总 {sid}，请刷新后重新选择", code="summary_not_found",
                                field="summary_ids", row=n)
    return [found[s] for s in ids]


def save_details(
    store: Store, unit_pk: int, summary_id: str, version: int, rows: Iterable[Mapping[str, Any]]
) -> int:
    """Replace the cached person details of a summary by one downloaded version."""
    lines, people = [], []
    for n, r in enumerate(rows, start=1):
        cells = (str(r["employee_id"]), str(r["period"]), str(r["base"]), str(r["amount"]))
        if any("\t" in c or "\n" in c for c in cells):
            raise ValidationError(f"税务端人员明细第{n}行格式有误", code="bad_details", row=n)
        lines.append("\t".join(cells))
        people.append([cells[0], str(r["name"]), str(r["id_type"]), str(r["id_number"])])
    with store.write() as db:
        db.execute_sql(
            "INSERT INTO fee_summary_detail (unit_id, summary_id, version, row_count, lines, people, downloaded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (unit_id, summary_id) DO UPDATE SET version = excluded.version, "
            "row_count = excluded.row_count, lines = excluded.lines, people = excluded.people, "
            "downloaded_at = excluded.downloaded_at",
            (unit_pk, summary_id, version, len(lines), "\n".join(lines), _json(people), _now()),
        )
    return len(lines)


def detail_lines(store: Store, unit_pk: int, summary_id: str) -> tuple[int, list[str]] | None:
    """(version, "employee_id\tperiod\tbase\tamount" lines) of the cached details."""
    row = store.db.execute_sql(
        "SELECT version, lines, row_count FROM fee_summary_detail WHERE unit_id = ? AND summary_id = ?",
        (unit_pk, summary_id),
    ).fetchone()
    if row is None:
        return None
    return int(row[0]), (row[1].split("\n") if row[2] else [])


def detail_people(store: Store, unit_pk: int, summary_id: str) -> dict[str, tuple[str, str, str]]:
    """employee_id -> (name, id_type, id_number) as the cached details name them."""
    row = store.db.execute_sql(
        "SELECT people FROM fee_summary_detail WHERE unit_id = ? AND summary_id = ?", (unit_pk, summary_id)
    ).fetchone()
    return {p[0]: (p[1], p[2], p[3]) for p in json.loads(row[0])} if row else {}


def details_version(store: Store, unit_pk: int, summary_id: str) -> int | None:
    """The version whose person details are cached, None when none are."""
    row = store.db.execute_sql(
        "SELECT version FROM fee_summary_detail WHERE unit_id = ? AND summary_id = ?", (unit_pk, summary_id)
    ).fetchone()
    return int(row[0]) if row else None


# -- declaring -------------------------------------------------------------------------------------
def declare(store: Store, unit_pk: int, summary_ids: Sequence[str], operator: str) -> int:
    """提交申报: one queued journal entry naming the summaries and the versions seen."""
    chosen = summaries_by_id(store, unit_pk, summary_ids)
    if len(chosen) > MAX_SUMMARIES:
        raise ValidationError(f"一次最多申报 {MAX_SUMMARIES} 条汇总数据", field="summary_ids")
    seen: set[str] = set()
    for n, s in enumerate(chosen, start=1):
        if s.summary_id in seen:
            raise ValidationError(f"第{n}条：{s.label} 重复选择", field="summary_ids", row=n)
        seen.add(s.summary_id)
        if s.state != "pending":
            raise ConflictError(f"第{n}条：{s.label} 已申报，请勿重复申报", code="summary_declared", row=n)
        if s.submitted:
            raise ConflictError(
                f"第{n}条：{s.label} 已提交申报，请在申报记录中获取反馈", code="summary_submitted", row=n
            )
    total = sum((s.amount for s in chosen), Decimal("0"))
    periods = sorted({s.period_from for s in chosen} | {s.period_to for s in chosen})
    period_text = periods[0] if len(periods) == 1 else f"{periods[0]}-{periods[-1]}"
    kinds = {s.kind for s in chosen}
    label = SUMMARY_KIND_LABELS[chosen[0].kind] if len(kinds) == 1 else "社保费申报"
    payload = {
        "summaries": [{"summary_id": s.summary_id, "version": s.version} for s in chosen],
        # What the operator saw, for the records page and messages naming a summary.
        "figures": [
            {"summary_id": s.summary_id, "kind": s.kind, "special_type": s.special_type, "label": s.label,
             "unit_number": s.unit_number, "agency": s.agency, "item": s.item, "item_name": s.item_name,
             "part": s.part, "part_name": s.part_name, "period_from": s.period_from, "period_to": s.period_to,
             "headcount": s.headcount, "base_total": str(s.base_total), "amount": str(s.amount)}
            for s in chosen
        ],
        "total_amount": str(total),
    }
    with store.write() as db:
        if _submitted(store, unit_pk) & seen:  # another request declared them meanwhile
            raise ConflictError("所选汇总数据已提交申报，请刷新后重试", code="summary_submitted")
        return journal.create(
            db, unit_pk, DECLARATION, payload, operator=operator, row_count=len(chosen),
            summary=f"{label} {len(chosen)} 条汇总，费款所属期 {period_text}，应缴金额 {total:,.2f} 元",
        )


def request_body(payload: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The (summary_id, version) pairs the request names; the same payload, the same bytes."""
    return [(str(s["summary_id"]), int(s["version"])) for s in payload["summaries"]]


# -- what the sender applies (inside the journal's transaction) -----------------------------------
def save_record(db: peewee.SqliteDatabase, unit_pk: int, record: Mapping[str, Any], now: str | None = None) -> None:
    """Upsert one tax-side declaration (accepted or voided) by its id, and decide the
    journal entries it answers: a declaration still 待反馈 here, a void of it."""
    now = now or _now()
    status = VOIDED if record.get("status") == VOIDED or record.get("record_status") == "已作废" else ACCEPTED
    values = {
        "declaration_id": str(record["declaration_id"]), "channel": str(record.get("channel") or ""),
        "status": status, "received_at": str(record.get("received_at") or ""),
        "decided_at": _text(record.get("decided_at")), "declared_on": _text(record.get("declared_on")),
        "summary_count": int(record.get("summary_count") or 0), "total_amount": _text(record.get("total_amount")),
        "summaries": _json(list(record.get("summaries") or ())), "arrears": _json(list(record.get("arrears") or ())),
        "voided_at": _text(record.get("voided_at")), "void_id": _text(record.get("void_id")), "synced_at": now,
    }
    db.execute_sql(
        f"INSERT INTO fee_record (unit_id, {', '.join(_RECORD_FIELDS)}) "
        f"VALUES (?, {', '.join('?' for _ in _RECORD_FIELDS)}) ON CONFLICT (unit_id, declaration_id) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in _RECORD_FIELDS if name != "declaration_id"),
        [unit_pk, *(values[name] for name in _RECORD_FIELDS)],
    )
    if status == ACCEPTED:  # the cached summaries read as declared until the next refresh
        db.execute_sql(
            "UPDATE fee_summary SET state = 'declared', declaration_id = ? WHERE unit_id = ? AND summary_id IN "
            "(SELECT json_extract(value, '$.summary_id') FROM json_each(?))",
            (values["declaration_id"], unit_pk, values["summaries"]),
        )
    for entry in journal.entries_by_taxside_id(db, unit_pk, DECLARATION, values["declaration_id"]):
        if entry.state == journal.AWAITING:
            journal.mark_decided_in(db, entry.id, True, [])
    if status == VOIDED and values["void_id"]:
        for entry in journal.entries_by_taxside_id(db, unit_pk, VOID, values["void_id"]):
            if entry.state == journal.AWAITING:
                journal.mark_decided_in(db, entry.id, True, [])


def apply_void(db: peewee.SqliteDatabase, unit_pk: int, declaration_id: str, void: Mapping[str, Any]) -> None:
    """An accepted void: the record reads 已作废 and its arrears are void."""
    row = db.execute_sql(
        "SELECT arrears FROM fee_record WHERE unit_id = ? AND declaration_id = ?", (unit_pk, declaration_id)
    ).fetchone()
    if row is None:
        return  # not synced here: the next records sync brings it as 已作废
    arrears = [{**a, "state": VOIDED} for a in json.loads(row[0])]
    db.execute_sql(
        "UPDATE fee_record SET status = ?, voided_at = ?, void_id = ?, arrears = ?, synced_at = ? "
        "WHERE unit_id = ? AND declaration_id = ?",
        (VOIDED, _text(void.get("decided_at")), _text(void.get("void_id")), _json(arrears), _now(),
         unit_pk, declaration_id),
    )
    # Its summaries are pending again on the tax side; the next refresh lists them.
    db.execute_sql(
        "UPDATE fee_summary SET state = 'pending', declaration_id = NULL WHERE unit_id = ? AND declaration_id = ?",
        (unit_pk, declaration_id),
    )


# -- voids -----------------------------------------------------------------------------------------
def check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise ValidationError(f"请填写作废原因（不超过{MAX_REASON}个字）", field="reason")
    return text


def request_void(store: Store, unit_pk: int, declaration_id: str, reason: str | None, operator: str) -> int:
    """作废: a queued void entry for a successful, unpaid declaration."""
    text = check_reason(reason)
    rec = record(store, unit_pk, declaration_id)
    if rec.status != ACCEPTED:
        raise ConflictError("只有申报成功的记录可以作废", code="declaration_not_accepted")
    if rec.paid:
        raise ConflictError("该申报已缴款，不能作废", code="paid")
    if rec.voucher_open:
        raise ConflictError("该申报已开具银行端缴款凭证，请先作废缴款凭证", code="voucher_open")
    with store.write() as db:
        for entry in journal.entries(store, unit_pk, journal.OPEN_STATES, (VOID,)):
            if journal.payload(store, entry.id)["declaration_id"] == declaration_id:
                raise ConflictError("该申报已提交作废申请，请获取反馈查看作废结果", code="void_submitted")
        return journal.create(
            db, unit_pk, VOID, {"declaration_id": declaration_id, "reason": text}, operator=operator,
            row_count=rec.summary_count, summary=f"作废社保费申报 {declaration_id}：{text}",
        )


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeeRecord:
    """One row of 申报记录: a tax-side record, a local entry, or both linked."""

    declaration_id: str | None
    entry_id: int | None
    channel: str
    status: str
    date: str  # 申报日期: declared_on, else the day the local entry was made
    summary_count: int
    total_amount: str | None
    summaries: tuple[Mapping[str, Any], ...]
    arrears: tuple[Mapping[str, Any], ...]
    reasons: tuple[Mapping[str, Any], ...]
    operator: str
    summary: str
    voided_at: str | None
    void_state: str | None  # the last void entry's state for this declaration

    @property
    def status_label(self) -> str:
        return RECORD_STATUS_LABELS.get(self.status, self.status)

    @property
    def paid(self) -> bool:
        return any(a.get("state") == "paid" for a in self.arrears)

    @property
    def voucher_open(self) -> bool:
        return any(a.get("voucher_id") and a.get("state") == "unpaid" for a in self.arrears)

    @property
    def can_void(self) -> bool:
        open_void = self.void_state in journal.OPEN_STATES
        return self.status == ACCEPTED and not self.paid and not self.voucher_open and not open_void

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(status_label=self.status_label, paid=self.paid, can_void=self.can_void,
                    void_state_label=journal.state_label(VOID, self.void_state) if self.void_state else None)
        return data


@dataclass(frozen=True)
class RecordFilter:
    status: str = ""
    date_from: str = ""
    date_to: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> RecordFilter:
        status = (args.get("status") or "").strip()
        if status and status not in RECORD_STATUS_LABELS:
            raise ValidationError("申报状态不正确", field="status")
        dates = [parse_date(args.get(name), name) for name in ("date_from", "date_to")]
        if dates[0] and dates[1] and dates[0] > dates[1]:
            raise ValidationError("申报日期起不能晚于申报日期止", field="date_from")
        return cls(status, dates[0], dates[1])


def parse_date(value: str | None, field: str) -> str:
    text = (value or "").strip()
    if text:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationError("申报日期格式应为 YYYY-MM-DD", field=field) from None
    return text


def _all_records(store: Store, unit_pk: int) -> list[FeeRecord]:
    voids: dict[str, str] = {}
    for entry in journal.entries(store, unit_pk, journal.ALL_STATES, (VOID,)):  # oldest first: last wins
        voids[journal.payload(store, entry.id)["declaration_id"]] = entry.state
    linked: dict[str, journal.Entry] = {}
    local: list[FeeRecord] = []
    for entry in journal.entries(store, unit_pk, journal.ALL_STATES, (DECLARATION,)):
        if entry.taxside_id:
            linked[entry.taxside_id] = entry
        if entry.state == journal.ACCEPTED:
            continue  # its record is in fee_record (saved with the decision)
        body = journal.payload(store, entry.id)
        local.append(FeeRecord(
            entry.taxside_id, entry.id, "本客户端", entry.state, entry.created_at[:10], entry.row_count,
            body.get("total_amount"), tuple(body.get("figures") or ()), (), tuple(entry.reasons), entry.operator,
            entry.summary, None, None,
        ))
    out = []
    rows = store.db.execute_sql(
        f"SELECT {', '.join(_RECORD_FIELDS)} FROM fee_record WHERE unit_id = ?", (unit_pk,)
    ).fetchall()
    for row in rows:
        r = dict(zip(_RECORD_FIELDS, row, strict=True))
        entry = linked.get(r["declaration_id"])
        out.append(FeeRecord(
            r["declaration_id"], entry.id if entry else None, r["channel"], r["status"],
            r["declared_on"] or r["received_at"][:10], r["summary_count"], r["total_amount"],
            tuple(json.loads(r["summaries"])), tuple(json.loads(r["arrears"])), (),
            entry.operator if entry else "", entry.summary if entry else "", r["voided_at"],
            voids.get(r["declaration_id"]),
        ))
    # A refused entry and a record never share an id: one row per declaration either way.
    known = {r.declaration_id for r in out}
    out += [r for r in local if r.declaration_id is None or r.declaration_id not in known]
    return out


def records(store: Store, unit_pk: int, request: PageRequest, filters: RecordFilter) -> Page:
    """申报记录, newest first; 查询 by status and 申报日期."""
    rows = _all_records(store, unit_pk)
    if filters.status:
        rows = [r for r in rows if r.status == filters.status]
    if filters.date_from:
        rows = [r for r in rows if r.date >= filters.date_from]
    if filters.date_to:
        rows = [r for r in rows if r.date <= filters.date_to]
    rows.sort(key=lambda r: (r.date, r.declaration_id or "", r.entry_id or 0), reverse=True)
    start = (request.page - 1) * request.size
    return Page([r.to_dict() for r in rows[start:start + request.size]], len(rows), request.page, request.size)


def record(store: Store, unit_pk: int, declaration_id: str) -> FeeRecord:
    for r in _all_records(store, unit_pk):
        if r.declaration_id == declaration_id:
            return r
    raise NotFoundError("未找到该社保费申报记录，请先同步申报记录", code="fee_declaration_not_found")
