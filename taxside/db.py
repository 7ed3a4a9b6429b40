"""The reference tax side's store: one SQLite file (WAL), schema declared with Peewee.

Every change to a fed resource takes a sequence number from ``change_log`` (one row per
change or per batch) and stores it on the changed row together with a ``deleted`` flag,
so a feed is "rows of this unit ordered by (seq, id) after the cursor": stable order, no
gaps, deletions served as tombstones. Later resources (payroll-base declarations, fee
summaries, arrears, payments) get their own table with ``seq``/``deleted`` and share the
same log; every write of the protocol is recorded in ``idempotency``.

Model classes are built per database (``build_models``) so several tax sides can run in
one process (tests) without rebinding global classes.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import peewee as pw

SCHEMA_VERSION = "1"
DEFAULT_TODAY = "2025-03-15"  # fixed business date so generated data is deterministic
DEFAULT_DECISION_DELAY = 3.0  # seconds before a declaration (payroll base, fee, void) is decided


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def build_models(db: pw.Database) -> SimpleNamespace:
    class Base(pw.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Meta_(Base):
        key = pw.TextField(primary_key=True)
        value = pw.TextField()

        class Meta:
            table_name = "meta"

    class ChangeLog(Base):
        seq = pw.AutoField()
        feed = pw.TextField()  # enrollment, unit, notice, password ...
        unit_pk = pw.IntegerField(null=True)
        entity_id = pw.TextField(null=True)  # None for a batch (e.g. bulk load)
        op = pw.TextField()  # upsert, delete, bulk, password_changed ...
        at = pw.TextField()

    class Unit(Base):
        unit_id = pw.TextField(unique=True)
        taxpayer_id = pw.TextField(index=True)
        name = pw.TextField()
        tax_authority = pw.TextField()  # 主管税务机关
        registration_type = pw.TextField()  # 登记注册类型
        region = pw.TextField()
        industry_risk_class = pw.IntegerField()  # 工伤行业风险类别 1-8
        collection_mode = pw.TextField()  # 税务自主征收 / 税务代征
        is_government = pw.BooleanField(default=False)
        initial_number = pw.TextField()  # the unit number whose last 6 chars are the initial password
        password_hash = pw.TextField(null=True)  # None while the initial password is in force
        password_salt = pw.TextField(null=True)
        password_changed_at = pw.TextField(null=True)
        failed_attempts = pw.IntegerField(default=0)
        locked_until = pw.TextField(null=True)
        seq = pw.IntegerField(default=0)
        updated_at = pw.TextField()

    class UnitNumber(Base):
        unit_pk = pw.IntegerField(index=True)
        number = pw.TextField(unique=True)  # 社保单位编号
        kind = pw.TextField()  # medical / pension / unemployment / injury
        items = pw.TextField()  # JSON list of insurance items this number covers
        agency = pw.TextField()  # 社保经办机构

    class Employee(Base):
        unit_pk = pw.IntegerField()
        unit_number = pw.TextField()
        name = pw.TextField()
        id_type = pw.TextField()
        id_number = pw.TextField(index=True)
        gender = pw.TextField()
        birth_date = pw.TextField()
        items = pw.TextField()  # JSON list
        status = pw.TextField()  # 正常缴费 / 停止缴费
        bases = pw.TextField()  # JSON object item -> "8000.00"
        seq = pw.IntegerField()
        deleted = pw.BooleanField(default=False)
        updated_at = pw.TextField()

        class Meta:
            indexes = ((("unit_pk", "id"), False), (("unit_pk", "seq", "id"), False))

    class Notice(Base):
        region = pw.TextField(null=True)  # None: every region
        title = pw.TextField()
        body = pw.TextField()
        published_on = pw.TextField()
        valid_until = pw.TextField()
        importance = pw.TextField()  # 重要 / 一般
        popup = pw.BooleanField(default=False)
        seq = pw.IntegerField()
        deleted = pw.BooleanField(default=False)

    class Token(Base):
        token_hash = pw.TextField(primary_key=True)  # sha256 of the token; the token itself is not stored
        unit_pk = pw.IntegerField()
        scope = pw.TextField()  # full / change_password
        expires_at = pw.TextField()

    class Idempotency(Base):
        key = pw.TextField(primary_key=True)
        request_hash = pw.TextField()
        method = pw.TextField()
        path = pw.TextField()
        unit_pk = pw.IntegerField(null=True)
        status = pw.IntegerField()
        body = pw.BlobField()
        created_at = pw.TextField()

    class WageBaseDeclaration(Base):
        """缴费工资申报: received, then decided lazily once its delay has passed."""

        unit_pk = pw.IntegerField()
        kind = pw.TextField()  # daily / annual
        status = pw.TextField()  # processing / accepted / rejected
        received_at = pw.TextField()
        received_on = pw.TextField()  # business date at receipt: windows and ranges use it
        effective_month = pw.TextField(null=True)  # annual: fixed at receipt
        row_count = pw.IntegerField()
        decided_at = pw.TextField(null=True)
        rejections = pw.TextField(null=True)  # JSON list, kept as served

        class Meta:
            table_name = "wage_base_declaration"
            indexes = ((("unit_pk", "status"), False), (("status", "received_at"), False))

    class WageBaseRow(Base):
        declaration_pk = pw.IntegerField()
        row_no = pw.IntegerField()  # 1-based position in the submitted rows
        employee_id = pw.TextField(null=True)  # copies of text fields, for queries
        id_number = pw.TextField(null=True)
        name = pw.TextField(null=True)
        data = pw.TextField()  # the submitted row as JSON: checked only at the decision

        class Meta:
            table_name = "wage_base_row"
            indexes = ((("declaration_pk", "row_no"), True),)

    class FeeRun(Base):
        """When a unit's daily summaries of a period were last brought up to date."""

        unit_pk = pw.IntegerField()
        period = pw.TextField()  # YYYYMM
        source_seq = pw.IntegerField()  # MAX(employee.seq) of the unit at the computation
        pack_version = pw.TextField()
        computed_at = pw.TextField()

        class Meta:
            table_name = "fee_run"
            indexes = ((("unit_pk", "period"), True),)

    class FeeBatch(Base):
        """One computation's person details, shared by the summaries it produced; never
        changed once written (a re-computation writes a new batch)."""

        unit_pk = pw.IntegerField()
        kind = pw.TextField()  # daily / special
        items = pw.TextField()  # JSON list of item codes: bit i of fee_detail.mask
        rates = pw.TextField()  # JSON {period: {item: [er_rate, er_fixed, ee_rate, ee_fixed]}}
        computed_at = pw.TextField()

        class Meta:
            table_name = "fee_batch"

    class FeeDetail(Base):
        """One person (and month) of a batch: one row for every item, not one per summary."""

        batch_pk = pw.IntegerField()
        n = pw.IntegerField()  # 1-based order in the batch: pages seek on (batch_pk, n)
        employee_pk = pw.IntegerField()
        name = pw.TextField()
        id_type = pw.TextField()
        id_number = pw.TextField()
        period = pw.TextField()
        mask = pw.IntegerField()  # bit i: pays items[i]
        vals = pw.TextField()  # JSON list per item: null or [base, employer amount, employee amount]

        class Meta:
            table_name = "fee_detail"
            primary_key = pw.CompositeKey("batch_pk", "n")
            without_rowid = True
            # Paging a summary skips persons by (n, mask) alone: this index holds just those,
            # so an OFFSET of 90,000 reads a small index, not 90,000 rows of names and JSON.
            # One person's months across batches (职工缴费证明, taxside/contributions.py).
            indexes = ((("batch_pk", "n", "mask"), False), (("employee_pk", "batch_pk"), False))

    class FeeSummary(Base):
        """预处理汇总: per unit number / agency / item / part / period range."""

        unit_pk = pw.IntegerField()
        kind = pw.TextField()  # daily / special
        special_type = pw.TextField(null=True)  # 补缴 / 退休补收
        unit_number = pw.TextField()
        agency = pw.TextField()
        item = pw.TextField()
        item_name = pw.TextField()
        part = pw.TextField()  # employer / employee
        period_from = pw.TextField()
        period_to = pw.TextField()
        headcount = pw.IntegerField()
        base_total = pw.TextField()  # money text
        amount = pw.TextField()
        detail_count = pw.IntegerField()
        digest = pw.TextField()  # of the persons and bases: a re-computation that changes
        # nothing keeps the version
        version = pw.IntegerField()
        computed_at = pw.TextField()
        pack_version = pw.TextField()
        batch_pk = pw.IntegerField(null=True)
        state = pw.TextField()  # pending / declared
        declaration_pk = pw.IntegerField(null=True)

        class Meta:
            table_name = "fee_summary"
            indexes = ((("unit_pk", "kind", "period_from"), False), (("batch_pk",), False))

    class FeeDeclaration(Base):
        """社保费申报: received, decided lazily like payroll-base declarations."""

        unit_pk = pw.IntegerField()
        channel = pw.TextField()  # 本客户端 / 电子税务局
        status = pw.TextField()  # processing / accepted / rejected / voided
        received_at = pw.TextField()
        decided_at = pw.TextField(null=True)
        declared_on = pw.TextField(null=True)  # business date of acceptance
        summary_count = pw.IntegerField()
        total_amount = pw.TextField(null=True)
        rejections = pw.TextField(null=True)  # JSON list
        voided_at = pw.TextField(null=True)
        void_pk = pw.IntegerField(null=True)

        class Meta:
            table_name = "fee_declaration"
            indexes = ((("unit_pk", "declared_on"), False), (("status", "received_at"), False))

    class FeeDeclarationItem(Base):
        declaration_pk = pw.IntegerField()
        summary_ref = pw.TextField()  # the summary_id as sent
        version = pw.IntegerField()
        snapshot = pw.TextField(null=True)  # JSON of the summary as declared

        class Meta:
            table_name = "fee_declaration_item"
            indexes = ((("declaration_pk", "id"), False),)

    class Arrear(Base):
        """欠费 from an accepted fee declaration; payment (3.1.7) pays it."""

        unit_pk = pw.IntegerField()
        declaration_pk = pw.IntegerField()
        summary_pk = pw.IntegerField()
        unit_number = pw.TextField()
        agency = pw.TextField()
        item = pw.TextField()
        part = pw.TextField()
        period_from = pw.TextField()
        period_to = pw.TextField()
        amount = pw.TextField()
        deadline = pw.TextField()  # 限缴日期
        state = pw.TextField()  # unpaid / paid / voided
        voucher_id = pw.TextField(null=True)  # an open 银行端缴款凭证 (hook for payment)
        paid_at = pw.TextField(null=True)
        debit_pk = pw.IntegerField(null=True)  # a debit with unknown result, or the paying one
        payment_pk = pw.IntegerField(null=True)
        created_at = pw.TextField()
        seq = pw.IntegerField()
        deleted = pw.BooleanField(default=False)

        class Meta:
            table_name = "arrear"
            indexes = ((("unit_pk", "seq", "id"), False), (("declaration_pk", "id"), False))

    class FeeVoid(Base):
        """作废 of an accepted fee declaration: received, decided after the same delay."""

        unit_pk = pw.IntegerField()
        declaration_pk = pw.IntegerField()
        reason = pw.TextField()
        status = pw.TextField()  # processing / accepted / rejected
        received_at = pw.TextField()
        decided_at = pw.TextField(null=True)
        rejection = pw.TextField(null=True)  # JSON {"code", "message"}

        class Meta:
            table_name = "fee_void"
            indexes = ((("status", "received_at"), False),)

    class Agreement(Base):
        """三方协议 of a unit (taxside/agreements.py); the balance is the simulated bank's."""

        unit_pk = pw.IntegerField(index=True)
        agreement_no = pw.TextField(unique=True)
        bank = pw.TextField()
        account_masked = pw.TextField()
        account_name = pw.TextField()
        scope = pw.TextField()  # 费批扣 / 所有批扣 / 所有非批扣
        state = pw.TextField()  # 有效 / 已失效
        balance = pw.TextField()  # money text
        account_name_ok = pw.BooleanField(default=True)
        budget_ok = pw.BooleanField(default=True)
        seq = pw.IntegerField(default=0)

    class BankAnswer(Base):
        """A forced bank answer (/sim) for the next ``remaining`` arrears a unit debits."""

        unit_pk = pw.IntegerField(index=True)
        answer = pw.TextField()  # unknown / bank_timeout
        resolve_to = pw.TextField()  # paid / failed (for unknown)
        remaining = pw.IntegerField()

        class Meta:
            table_name = "bank_answer"

    class Debit(Base):
        unit_pk = pw.IntegerField()
        agreement_pk = pw.IntegerField()
        received_at = pw.TextField()
        debited_on = pw.TextField()
        status = pw.TextField()  # done / processing
        seq = pw.IntegerField()

        class Meta:
            indexes = ((("unit_pk", "id"), False), (("status", "received_at"), False))

    class DebitResult(Base):
        debit_pk = pw.IntegerField()
        n = pw.IntegerField()  # order in the request
        arrear_pk = pw.IntegerField()
        status = pw.TextField()  # paid / failed / unknown
        amount = pw.TextField()
        late_days = pw.IntegerField()
        late_fee = pw.TextField()
        total = pw.TextField()
        payment_pk = pw.IntegerField(null=True)
        code = pw.TextField(null=True)
        message = pw.TextField(null=True)
        resolve_to = pw.TextField(null=True)  # unknown: paid / failed
        resolve_code = pw.TextField(null=True)  # unknown resolving to failed: its code

        class Meta:
            table_name = "debit_result"
            primary_key = pw.CompositeKey("debit_pk", "n")
            indexes = ((("status", "debit_pk"), False),)

    class Voucher(Base):
        """银行端缴款凭证: figures fixed at issue; holds its arrears while open."""

        unit_pk = pw.IntegerField()
        voucher_no = pw.TextField(unique=True)
        state = pw.TextField()  # open / paid / voided / expired
        issued_at = pw.TextField()
        issued_on = pw.TextField()
        deadline = pw.TextField()
        count = pw.IntegerField()
        amount_total = pw.TextField()
        late_fee_total = pw.TextField()
        total = pw.TextField()
        paid_at = pw.TextField(null=True)
        voided_at = pw.TextField(null=True)
        seq = pw.IntegerField()

        class Meta:
            indexes = ((("unit_pk", "issued_on", "id"), False), (("state", "deadline"), False))

    class VoucherItem(Base):
        voucher_pk = pw.IntegerField()
        n = pw.IntegerField()
        arrear_pk = pw.IntegerField()
        amount = pw.TextField()
        late_days = pw.IntegerField()
        late_fee = pw.TextField()
        total = pw.TextField()

        class Meta:
            table_name = "voucher_item"
            primary_key = pw.CompositeKey("voucher_pk", "n")

    class Payment(Base):
        """缴款记录 of either method; ``arrival`` 已缴款未入库 -> 已入库 after a delay."""

        unit_pk = pw.IntegerField()
        tax_ticket = pw.TextField()
        method = pw.TextField()  # 三方协议 / 银行端缴款凭证
        debit_pk = pw.IntegerField(null=True)
        voucher_pk = pw.IntegerField(null=True)
        agreement_pk = pw.IntegerField(null=True)
        arrear_pk = pw.IntegerField()
        amount = pw.TextField()
        late_days = pw.IntegerField()
        late_fee = pw.TextField()
        total = pw.TextField()
        paid_at = pw.TextField()  # the clock (arrival delays count from it)
        arrival = pw.TextField()
        stored_at = pw.TextField(null=True)
        seq = pw.IntegerField()
        paid_on = pw.TextField(null=True)  # the business date (缴款日期); null on rows made before it

        class Meta:
            indexes = ((("unit_pk", "seq", "id"), False), (("arrival", "paid_at"), False))

    class Release(Base):
        version = pw.TextField(primary_key=True)
        url = pw.TextField()
        sha256 = pw.TextField()
        notes = pw.TextField()
        published_on = pw.TextField()
        content = pw.BlobField(null=True)

    return SimpleNamespace(
        Meta=Meta_,
        ChangeLog=ChangeLog,
        Unit=Unit,
        UnitNumber=UnitNumber,
        Employee=Employee,
        Notice=Notice,
        Token=Token,
        Idempotency=Idempotency,
        Release=Release,
        WageBaseDeclaration=WageBaseDeclaration,
        WageBaseRow=WageBaseRow,
        FeeRun=FeeRun,
        FeeBatch=FeeBatch,
        FeeDetail=FeeDetail,
        FeeSummary=FeeSummary,
        FeeDeclaration=FeeDeclaration,
        FeeDeclarationItem=FeeDeclarationItem,
        Arrear=Arrear,
        FeeVoid=FeeVoid,
        Agreement=Agreement,
        BankAnswer=BankAnswer,
        Debit=Debit,
        DebitResult=DebitResult,
        Voucher=Voucher,
        VoucherItem=VoucherItem,
        Payment=Payment,
        all=[Meta_, ChangeLog, Unit, UnitNumber, Employee, Notice, Token, Idempotency, Release,
             WageBaseDeclaration, WageBaseRow, FeeRun, FeeBatch, FeeDetail, FeeSummary,
             FeeDeclaration, FeeDeclarationItem, Arrear, FeeVoid, Agreement, BankAnswer, Debit,
             DebitResult, Voucher, VoucherItem, Payment],
    )


class Store:
    """One tax-side database. Thread-safe: Peewee keeps one connection per thread."""

    def __init__(self, path: str | Path, *, now: Callable[[], dt.datetime] = _now) -> None:
        self.path = Path(path)
        self.now = now
        self.db = pw.SqliteDatabase(
            str(self.path),
            pragmas={
                "journal_mode": "wal",
                "synchronous": "normal",
                "busy_timeout": 10000,
                "foreign_keys": 1,
                "cache_size": -32000,
            },
            check_same_thread=False,
        )
        self.m = build_models(self.db)
        self._init_lock = threading.Lock()

    def create(self) -> None:
        with self._init_lock, self.db.connection_context():
            self.db.create_tables(self.m.all, safe=True)
            if "paid_on" not in {c.name for c in self.db.get_columns("payment")}:  # a file made before it
                self.db.execute_sql("ALTER TABLE payment ADD COLUMN paid_on TEXT")
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", SCHEMA_VERSION)
                self.set_meta("today", DEFAULT_TODAY)
                self.set_meta("secret", _random_hex())

    # -- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute_sql("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute_sql(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def today(self) -> dt.date:
        return dt.date.fromisoformat(self.get_meta("today") or DEFAULT_TODAY)

    def decision_delay(self) -> float:
        """Seconds between receipt and decision of a payroll-base declaration."""
        value = self.get_meta("decision_delay_seconds")
        return float(value) if value is not None else DEFAULT_DECISION_DELAY

    def seconds(self, key: str, default: float) -> float:
        """A delay setting of the simulation (``/sim/settings``)."""
        value = self.get_meta(key)
        return float(value) if value is not None else default

    # -- writes -----------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction; IMMEDIATE so sequence numbers commit in order."""
        with self.db.atomic(lock_type="IMMEDIATE"):
            yield

    def log_change(
        self, feed: str, op: str, *, unit_pk: int | None = None, entity_id: str | None = None
    ) -> int:
        """Append to the change log (inside a write transaction); returns the new seq."""
        cur = self.db.execute_sql(
            "INSERT INTO change_log(feed, unit_pk, entity_id, op, at) VALUES (?, ?, ?, ?, ?)",
            (feed, unit_pk, entity_id, op, self.now().isoformat()),
        )
        return int(cur.lastrowid)

    def max_seq(self) -> int:
        row = self.db.execute_sql("SELECT MAX(seq) FROM change_log").fetchone()
        return int(row[0] or 0)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute_sql(sql, params).fetchall()


def _random_hex() -> str:
    import secrets

    return secrets.token_hex(16)
