"""The home page's "what this month still needs" (本月待办): one line per step of the month.

Everything is read from this PC (the page never waits on the tax side): the enrollment
cursor, the payroll bases of the synced employees, the submission journal, the cached fee
summaries and records, the last arrears list, the open bank vouchers and the last backup.
Each line has a state (``ok`` nothing to do, ``todo`` a step of the month still open,
``warn`` something late or uncertain), a plain Chinese sentence and the page that settles it.

A 100,000-employee unit must read in well under 150 ms, so every count over employees is
one SQL aggregate; only the handful of summaries, arrears and vouchers come back as rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from client.core import journal
from client.core.store import Store
from rules.model import RulePack
from rules.periods import Period

OK, TODO, WARN = "ok", "todo", "warn"
STATE_LABELS = {OK: "已完成", TODO: "待办理", WARN: "请注意"}
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
ENROLLMENT_STALE_DAYS = 7  # older than this, an update before declaring is advised
BACKUP_STALE_DAYS = 7
WAGE_KINDS = ("wage_base_daily", "wage_base_annual")
FEE_KINDS = ("fee_declaration", "fee_void")
BACKUP_ACTIONS = ("手动备份", "自动备份")  # the audit log's words (client/api/backup.py, backup/schedule.py)


@dataclass(frozen=True)
class StatusLine:
    key: str
    title: str
    state: str
    text: str
    path: str
    action: str

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "state_label": self.state_label}


@dataclass(frozen=True)
class HomeStatus:
    period: str  # the current fee period, YYYYMM
    today: str
    lines: tuple[StatusLine, ...]

    @property
    def period_label(self) -> str:
        return period_label(self.period)

    @property
    def open_count(self) -> int:
        return sum(1 for line in self.lines if line.state != OK)

    def line(self, key: str) -> StatusLine | None:
        return next((line for line in self.lines if line.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "period_label": self.period_label, "today": self.today,
                "open_count": self.open_count, "lines": [line.to_dict() for line in self.lines]}


# -- small helpers ------------------------------------------------------------------------------------
def first_business_day(year: int, month: int) -> dt.date:
    """The first Monday-Friday of the month, as the tax side counts it (docs/protocol.md)."""
    day = dt.date(year, month, 1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def current_period(today: dt.date) -> Period:
    """The period declared in the month of ``today`` (当月费款当月申报); before the month's
    first business day the tax side still serves the previous month's."""
    period = Period(today.year, today.month)
    return period.add_months(-1) if today < first_business_day(today.year, today.month) else period


def period_label(period: str) -> str:
    return f"{period[:4]}年{period[4:6]}月" if len(period) == 6 else period


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _fen(value: Any) -> Decimal:
    """Integer fen summed by SQL, back to yuan exactly."""
    return (Decimal(int(value or 0)) / 100).quantize(CENT)


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(str(text).replace(" ", "T")[:19])
    except ValueError:
        return None


def _age(then: dt.datetime, now: dt.datetime) -> str:
    """How long ago, in the words the page uses."""
    seconds = (now - then).total_seconds()
    if seconds < 3600:
        return "刚刚" if seconds < 60 else f"{int(seconds // 60)} 分钟前"
    days = (now.date() - then.date()).days
    if days <= 0:
        return f"{int(seconds // 3600)} 小时前"
    return "昨天" if days == 1 else f"{days} 天前"


def _stamp(then: dt.datetime) -> str:
    return then.strftime("%Y-%m-%d %H:%M")


def _deadline_words(days: int) -> str:
    return f"已逾期 {-days} 天" if days < 0 else ("今日到期" if days == 0 else f"还有 {days} 天")


def _open_states(store: Store, unit_pk: int, kinds: tuple[str, ...]) -> dict[str, int]:
    """Open journal entries of ``kinds`` by state (one aggregate over the journal's index)."""
    marks = ", ".join("?" for _ in kinds)
    states = ", ".join("?" for _ in journal.OPEN_STATES)
    rows = store.db.execute_sql(
        f"SELECT state, count(*) FROM submission WHERE unit_id = ? AND kind IN ({marks}) "
        f"AND state IN ({states}) GROUP BY state", (unit_pk, *kinds, *journal.OPEN_STATES),
    ).fetchall()
    return {str(state): int(n) for state, n in rows}


def _here(store: Store) -> str:
    """Where the data the lines count are: this PC's, or the team's shared database."""
    return "团队数据库" if store.team else "本机"


def _here_data(store: Store) -> str:
    return "团队数据库中的数据" if store.team else "本机数据"


# -- enrollment and payroll bases ------------------------------------------------------------------
def _enrollment(store: Store, unit_pk: int, now: dt.datetime) -> StatusLine:
    cursor = store.db.execute_sql(
        "SELECT updated_at, mode, complete FROM feed_cursor WHERE unit_id = ? AND feed = 'enrollment'", (unit_pk,)
    ).fetchone()
    title, path = "职工参保信息", "/enrollment"
    if cursor is None:
        return StatusLine("enrollment", title, TODO, f"{_here(store)}还没有职工参保信息，请先从税务端更新。", path, "去更新")
    (people,) = store.db.execute_sql(
        "SELECT count(*) FROM enrollment_employee WHERE unit_id = ? AND removed = 0", (unit_pk,)
    ).fetchone()
    then = _when(cursor[0])
    when = f"{_stamp(then)}（{_age(then, now)}）" if then else str(cursor[0])
    if cursor[1] == "full" and not cursor[2]:
        return StatusLine("enrollment", title, WARN, f"上次全量更新于 {when} 中断，{_here_data(store)}不完整，请重新更新。",
                          path, "去更新")
    if then is None or (now - then).days >= ENROLLMENT_STALE_DAYS:
        return StatusLine("enrollment", title, WARN, f"上次更新于 {when}，申报前请先更新，以免按旧数据核对。",
                          path, "去更新")
    return StatusLine("enrollment", title, OK, f"已于 {when} 更新，{_here(store)}共 {int(people):,} 名职工。", path, "查看")


# A row without any base holds only "0.00" / "" values. Migration 12's partial index holds
# the rows whose text says so (the condition below is the index's, word for word, so SQLite
# may use it; INDEXED BY insists, as the planner would rather take the status index and read
# every employee's bases); the JSON test then decides those few exactly as the 登录提示 always
# has (values "", "0", "0.00" or null are no base).
NO_BASE_INDEX = "enrollment_employee_no_base"
WITHOUT_BASE_SQL = (
    f"SELECT count(*) FROM enrollment_employee INDEXED BY {NO_BASE_INDEX} WHERE unit_id = ? "
    "AND removed = 0 AND status = '正常缴费' AND (instr(bases, '\"0.00\"') > 0 OR instr(bases, '.') = 0) "
    "AND NOT EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(bases) AND json_type(bases) = 'object' "
    "THEN bases ELSE '{}' END) WHERE trim(CAST(value AS TEXT)) NOT IN ('', '0', '0.00'))"
)


def without_base(store: Store, unit_pk: int) -> int:
    """正常缴费 employees whose synced enrollment holds no base for any item."""
    return int(store.db.execute_sql(WITHOUT_BASE_SQL, (unit_pk,)).fetchone()[0])


def _wage_base(store: Store, unit_pk: int) -> StatusLine:
    missing = without_base(store, unit_pk)
    title, path = "缴费工资", "/wage-base"
    if missing:
        return StatusLine("wage_base", title, TODO, f"有 {missing:,} 名正常缴费的职工缴费工资为空，请申报缴费工资。",
                          path, "去申报")
    return StatusLine("wage_base", title, OK, "正常缴费的职工都有缴费工资。", path, "查看")


def _wage_feedback(store: Store, unit_pk: int) -> StatusLine:
    states = _open_states(store, unit_pk, WAGE_KINDS)
    title, path = "缴费工资申报反馈", "/wage-base/records"
    unknown = states.get(journal.UNKNOWN, 0) + states.get(journal.SENDING, 0)
    awaiting, queued = states.get(journal.AWAITING, 0), states.get(journal.QUEUED, 0)
    if unknown:
        return StatusLine("wage_feedback", title, WARN,
                          f"有 {unknown} 笔缴费工资申报发送结果不明（待确认），请到申报记录获取反馈。", path, "获取反馈")
    if awaiting or queued:
        parts = [f"{awaiting} 笔待反馈"] if awaiting else []
        parts += [f"{queued} 笔待提交"] if queued else []
        return StatusLine("wage_feedback", title, TODO, f"缴费工资申报 {'、'.join(parts)}，请到申报记录获取反馈。",
                          path, "获取反馈")
    return StatusLine("wage_feedback", title, OK, "没有等待反馈的缴费工资申报。", path, "查看记录")


# -- fee summaries and declarations ----------------------------------------------------------------
def _submitted(store: Store, unit_pk: int) -> set[str]:
    """Summary ids named by open declaration entries (a handful of small payloads)."""
    out: set[str] = set()
    for entry in journal.entries(store, unit_pk, journal.OPEN_STATES, ("fee_declaration",)):
        out.update(str(s["summary_id"]) for s in journal.payload(store, entry.id).get("summaries", ()))
    return out


def _declared_in_records(store: Store, unit_pk: int, period: str) -> bool:
    """An accepted declaration (any channel) holds a daily summary of ``period``."""
    row = store.db.execute_sql(
        "SELECT 1 FROM fee_record r, json_each(r.summaries) s WHERE r.unit_id = ? AND r.status = 'accepted' "
        "AND json_extract(s.value, '$.period_from') <= ? AND json_extract(s.value, '$.period_to') >= ? "
        "AND coalesce(json_extract(s.value, '$.kind'), 'daily') = 'daily' LIMIT 1",
        (unit_pk, period, period),
    ).fetchone()
    return row is not None


def _summaries(store: Store, unit_pk: int, period: str) -> StatusLine:
    rows = store.db.execute_sql(
        "SELECT summary_id, kind, period_from, state, amount, fetched_at FROM fee_summary WHERE unit_id = ?",
        (unit_pk,),
    ).fetchall()
    title, path, label = "预处理汇总", "/fee-declaration", period_label(period)
    submitted = _submitted(store, unit_pk) if rows else set()
    pending = [r for r in rows if r[3] == "pending" and r[0] not in submitted]
    now_due = [r for r in pending if r[1] == "daily" and r[2] == period]
    older = [r for r in pending if r[1] == "daily" and str(r[2]) < period]
    special = [r for r in pending if r[1] != "daily"]
    extra = ""
    if older:
        extra = f"另有 {len(older)} 条往期汇总尚未申报（{period_label(min(str(r[2]) for r in older))}起）。"
    if special:
        extra += f"另有 {len(special)} 条特殊缴费汇总待申报。"
    if now_due:
        amount = sum((Decimal(r[4]) for r in now_due), ZERO)
        return StatusLine("summaries", title, WARN if older else TODO,
                          f"本期（{label}）有 {len(now_due)} 条汇总待申报，应缴 {_money(amount)} 元。{extra}",
                          path, "去申报")
    sent = any(r[0] in submitted and r[2] == period for r in rows)  # 待反馈: the next line says more
    declared = sent or any(r[3] == "declared" and r[1] == "daily" and r[2] == period for r in rows) or (
        _declared_in_records(store, unit_pk, period))
    if declared:
        state = WARN if older else (TODO if special else OK)
        done = "已提交申报，待税务端反馈" if sent else "已申报"
        return StatusLine("summaries", title, state, f"本期（{label}）汇总{done}。{extra}", path,
                          "去申报" if state != OK else "查看")
    if not rows and not _fetched(store, unit_pk):
        return StatusLine("summaries", title, TODO, f"尚未查询本期（{label}）预处理汇总，请到社保费申报查询。", path, "去查询")
    return StatusLine("summaries", title, WARN if older else TODO,
                      f"{_here(store)}没有本期（{label}）的汇总，请到社保费申报查询。{extra}", path, "去查询")


def _fetched(store: Store, unit_pk: int) -> bool:
    return store.db.execute_sql("SELECT 1 FROM fee_record WHERE unit_id = ? LIMIT 1", (unit_pk,)).fetchone() is not None


def _declarations(store: Store, unit_pk: int) -> StatusLine:
    states = _open_states(store, unit_pk, FEE_KINDS)
    title, path = "社保费申报反馈", "/fee-declaration/records"
    unknown = states.get(journal.UNKNOWN, 0) + states.get(journal.SENDING, 0)
    awaiting, queued = states.get(journal.AWAITING, 0), states.get(journal.QUEUED, 0)
    parts = [f"{awaiting} 笔待反馈"] if awaiting else []
    parts += [f"{queued} 笔待提交"] if queued else []
    if unknown:
        more = f"，另有 {'、'.join(parts)}" if parts else ""
        return StatusLine("declarations", title, WARN,
                          f"有 {unknown} 笔申报原交易状态不明（待确认）{more}，请到申报记录获取反馈，不要重复申报。",
                          path, "获取反馈")
    if parts:
        return StatusLine("declarations", title, TODO, f"社保费申报 {'、'.join(parts)}，请到申报记录获取反馈。",
                          path, "获取反馈")
    return StatusLine("declarations", title, OK, "没有等待反馈的申报。", path, "查看记录")


# -- arrears and vouchers --------------------------------------------------------------------------
def _arrears(store: Store, unit_pk: int, today: dt.date, pack: RulePack | None) -> StatusLine:
    title, path = "欠费缴纳", "/payment"
    fetched = store.db.execute_sql(
        "SELECT fetched_at FROM payment_arrear_fetch WHERE unit_id = ?", (unit_pk,)
    ).fetchone()
    if fetched is None:
        return StatusLine("arrears", title, TODO, "尚未查询欠费信息，请到费款缴纳查询。", path, "去查询")
    rows = store.db.execute_sql(
        "SELECT amount, deadline, late_fee, hold FROM payment_arrear WHERE unit_id = ? AND state = 'unpaid' "
        "ORDER BY deadline, arrear_id", (unit_pk,),
    ).fetchall()
    if not rows:
        return StatusLine("arrears", title, OK, f"没有未缴的欠费（按{'团队' if store.team else '本机'}上次查询）。", path, "查看")
    amount = sum((Decimal(r[0]) for r in rows), ZERO)
    late = sum((Decimal(r[2]) for r in rows), ZERO)
    days = (dt.date.fromisoformat(rows[0][1]) - today).days
    text = (f"{len(rows)} 条欠费未缴，合计 {_money(amount + late)} 元，最近的限缴日期为 {rows[0][1]}"
            f"（{_deadline_words(days)}）。")
    overdue = [r for r in rows if dt.date.fromisoformat(r[1]) < today]
    if pack is not None:
        rule = pack.late_fee
        base = sum((Decimal(r[0]) for r in overdue if not (rule.cap_at_amount and Decimal(r[2]) >= Decimal(r[0]))),
                   ZERO)
        if overdue:
            per_day = (base * rule.daily_rate).quantize(CENT, ROUND_HALF_UP)
            text += f"逾期欠费每天新增滞纳金约 {_money(per_day)} 元。"
        else:
            per_day = (amount * rule.daily_rate).quantize(CENT, ROUND_HALF_UP)
            text += f"逾期后每天将产生滞纳金约 {_money(per_day)} 元。"
    held = sum(1 for r in rows if r[3] == "debit")
    if held:
        text += f"其中 {held} 条扣款结果待银行确认。"
    return StatusLine("arrears", title, WARN if overdue else TODO, text, path, "去缴款")


def _vouchers(store: Store, unit_pk: int, today: dt.date) -> StatusLine:
    title, path = "银行端缴款凭证", "/payment/vouchers"
    rows = store.db.execute_sql(
        "SELECT total, deadline FROM payment_voucher WHERE unit_id = ? AND state = 'open' ORDER BY deadline",
        (unit_pk,),
    ).fetchall()
    if not rows:
        return StatusLine("vouchers", title, OK, "没有未缴款的缴款凭证。", path, "查看")
    total = sum((Decimal(r[0]) for r in rows), ZERO)
    lapsed = [r for r in rows if dt.date.fromisoformat(r[1]) < today]
    if lapsed:
        return StatusLine("vouchers", title, WARN,
                          f"{len(lapsed)} 张缴款凭证已过限缴日期未缴款，请作废后重新开具（共 {len(rows)} 张未缴，"
                          f"合计 {_money(total)} 元）。", path, "查看凭证")
    days = (dt.date.fromisoformat(rows[0][1]) - today).days
    return StatusLine("vouchers", title, TODO,
                      f"{len(rows)} 张缴款凭证尚未到银行缴款，合计 {_money(total)} 元，请在 {rows[0][1]}"
                      f"（{_deadline_words(days)}）前缴款。", path, "查看凭证")


# -- backup -----------------------------------------------------------------------------------------
def last_backup(store: Store, folder: Path | None, pattern: str) -> dt.datetime | None:
    """The newest backup this PC knows: the audit log's (any folder chosen) or a file in the
    automatic backup folder (named by its time; a file's mtime when renamed)."""
    marks = ", ".join("?" for _ in BACKUP_ACTIONS)
    row = store.db.execute_sql(f"SELECT max(at) FROM audit_log WHERE action IN ({marks})", BACKUP_ACTIONS).fetchone()
    found = [t for t in (_when(row[0] if row else None),) if t]
    if folder is not None and folder.is_dir():
        for path in folder.glob(pattern):
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                found.append(dt.datetime.fromtimestamp(path.stat().st_mtime))
            except (OSError, ValueError, OverflowError):
                continue
    return max(found) if found else None


def _backup(then: dt.datetime | None, now: dt.datetime, here: str) -> StatusLine:
    title, path = "数据备份", "/settings#backup-panel"
    if then is None:
        return StatusLine("backup", title, WARN, f"{here}还没有备份过，建议立即备份。", path, "去备份")
    words = f"{_stamp(then)}（{_age(then, now)}）"
    if (now - then).days >= BACKUP_STALE_DAYS:
        return StatusLine("backup", title, WARN, f"上次备份于 {words}，已超过 {BACKUP_STALE_DAYS} 天，建议立即备份。",
                          path, "去备份")
    return StatusLine("backup", title, OK, f"上次备份于 {words}。", path, "查看")


# -- all of it --------------------------------------------------------------------------------------
def home_status(
    store: Store, unit_pk: int, *, today: dt.date, now: dt.datetime, pack: RulePack | None,
    wage_base_shown: bool = True, backup_at: dt.datetime | None = None,
) -> HomeStatus:
    """The lines of the current fee period for the unit (``today``: the business date)."""
    period = str(current_period(today))
    lines = [_enrollment(store, unit_pk, now)]
    if wage_base_shown:  # 税务代征 units declare no payroll bases
        lines += [_wage_base(store, unit_pk), _wage_feedback(store, unit_pk)]
    lines += [
        _summaries(store, unit_pk, period), _declarations(store, unit_pk), _arrears(store, unit_pk, today, pack),
        _vouchers(store, unit_pk, today), _backup(backup_at, now, _here_data(store)),
    ]
    return HomeStatus(period, today.isoformat(), tuple(lines))
