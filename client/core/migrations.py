"""Ordered schema migrations. The schema version is SQLite's ``PRAGMA user_version`` (on
PostgreSQL the table socialfee_schema). The steps are written once for both engines: the
store translates column types for PostgreSQL (client/core/store_pg.py).

Each step is plain SQL written for the schema as it was at that version, so an old
database always upgrades the same way, whatever the models look like today. Append new
steps; never edit one that has shipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import peewee

from client.core.certificate_schema import create_certificate_tables
from client.core.queries_schema import add_arrival_paid_on, create_query_tables
from client.core.query_details_schema import create as create_query_detail_tables

Step = Callable[[peewee.Database], None]


def _v1_units(db: peewee.SqliteDatabase) -> None:
    db.execute_sql(
        """
        CREATE TABLE unit (
            id INTEGER PRIMARY KEY,
            taxpayer_id TEXT NOT NULL,
            taxside_unit_id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            region TEXT NOT NULL,
            added_at TEXT NOT NULL
        )
        """
    )


def _v2_audit_log(db: peewee.SqliteDatabase) -> None:
    db.execute_sql(
        """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            unit_id INTEGER REFERENCES unit (id) ON DELETE SET NULL
        )
        """
    )
    db.execute_sql("CREATE INDEX audit_log_at ON audit_log (at)")
    db.execute_sql("CREATE INDEX audit_log_action ON audit_log (action, at)")


def _v3_enrollment(db: peewee.SqliteDatabase) -> None:
    # Employees as the tax side's enrollment feed lists them; money as exact decimal text.
    db.execute_sql(
        """
        CREATE TABLE enrollment_employee (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            employee_id TEXT NOT NULL,
            name TEXT NOT NULL,
            id_type TEXT NOT NULL,
            id_number TEXT NOT NULL,
            gender TEXT NOT NULL,
            birth_date TEXT NOT NULL,
            unit_number TEXT NOT NULL,
            items TEXT NOT NULL,
            status TEXT NOT NULL,
            bases TEXT NOT NULL,
            taxside_updated_at TEXT NOT NULL,
            removed INTEGER NOT NULL DEFAULT 0,
            seen_generation INTEGER NOT NULL DEFAULT 0,
            synced_at TEXT NOT NULL,
            UNIQUE (unit_id, employee_id)
        )
        """
    )
    for columns in ("name", "id_number", "status, name", "unit_number, name"):
        suffix = columns.replace(", ", "_")
        db.execute_sql(
            f"CREATE INDEX enrollment_employee_{suffix} "
            f"ON enrollment_employee (unit_id, removed, {columns})"
        )
    db.execute_sql(
        """
        CREATE TABLE enrollment_change (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            employee_id TEXT NOT NULL,
            name TEXT NOT NULL,
            id_type TEXT NOT NULL,
            id_number TEXT NOT NULL,
            kind TEXT NOT NULL,
            fields TEXT NOT NULL,
            changed_at TEXT NOT NULL
        )
        """
    )
    db.execute_sql("CREATE INDEX enrollment_change_unit ON enrollment_change (unit_id, changed_at)")
    # One cursor per unit and feed, written in the transaction of the rows it follows.
    db.execute_sql(
        """
        CREATE TABLE feed_cursor (
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            feed TEXT NOT NULL,
            cursor TEXT,
            mode TEXT NOT NULL,
            generation INTEGER NOT NULL DEFAULT 0,
            complete INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (unit_id, feed)
        )
        """
    )


def _v4_login_notices_rules(db: peewee.SqliteDatabase) -> None:
    # The unit keeps its last good registration (JSON as the tax side sent it), the
    # salted hash behind offline entry, and removed_at for "remove but keep the data".
    for column in (
        "registration TEXT NOT NULL DEFAULT ''",
        "registration_at TEXT",
        "last_login_at TEXT",
        "offline_hash TEXT",
        "removed_at TEXT",
    ):
        db.execute_sql(f"ALTER TABLE unit ADD COLUMN {column}")
    db.execute_sql(
        """
        CREATE TABLE rule_pack_cache (
            region TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            content TEXT NOT NULL,
            fetched_at TEXT NOT NULL
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE notice (
            notice_id TEXT PRIMARY KEY,
            region TEXT,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            published_on TEXT NOT NULL,
            valid_until TEXT NOT NULL,
            importance TEXT NOT NULL,
            popup INTEGER NOT NULL DEFAULT 0,
            fetched_at TEXT NOT NULL,
            read_at TEXT
        )
        """
    )
    db.execute_sql("CREATE INDEX notice_region ON notice (region, published_on)")
    # Local secrets as salted hashes only (登录密码).
    db.execute_sql(
        """
        CREATE TABLE local_credential (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE refresh_state (
            feed TEXT NOT NULL,
            scope TEXT NOT NULL,
            ok_at TEXT,
            error TEXT,
            error_at TEXT,
            PRIMARY KEY (feed, scope)
        )
        """
    )


def _v5_wage_base_and_journal(db: peewee.SqliteDatabase) -> None:
    # Draft rows of 缴费工资申报, per unit and kind (daily / annual), one per employee.
    # Money as exact decimal text; '' means "not filled in yet".
    db.execute_sql(
        """
        CREATE TABLE wage_base_draft (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            employee_id TEXT NOT NULL,
            name TEXT NOT NULL,
            id_type TEXT NOT NULL,
            id_number TEXT NOT NULL,
            unit_number TEXT NOT NULL,
            current_base TEXT NOT NULL DEFAULT '',
            new_base TEXT NOT NULL DEFAULT '',
            item_bases TEXT NOT NULL DEFAULT '',
            effective_month TEXT NOT NULL DEFAULT '',
            warning TEXT NOT NULL DEFAULT '',
            added_at TEXT NOT NULL,
            UNIQUE (unit_id, kind, employee_id)
        )
        """
    )
    # (unit_id, kind, id) pages the draft in the order rows were added without sorting it;
    # ids only grow, so keeping this index costs little on a 50,000-row import.
    for columns in ("id", "name", "id_number"):
        db.execute_sql(
            f"CREATE INDEX wage_base_draft_{columns} ON wage_base_draft (unit_id, kind, {columns})"
        )
    # The submission journal (outbox): every push is written here before it is sent and
    # is never deleted. No cascade from unit: the journal outlives a removed unit.
    db.execute_sql(
        """
        CREATE TABLE submission (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id),
            kind TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            payload TEXT NOT NULL,
            summary TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            operator TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            taxside_id TEXT,
            feedback_at TEXT,
            reasons TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute_sql("CREATE INDEX submission_unit_kind ON submission (unit_id, kind, created_at)")
    db.execute_sql("CREATE INDEX submission_state ON submission (state)")


def _v6_fee_declarations(db: peewee.SqliteDatabase) -> None:
    # 社保费申报 (3.1.6). The summaries last fetched for a unit (replaced on each refresh),
    # the person details of the versions downloaded (one row per summary: "employee, period,
    # base, amount" lines that the check compares as text, and who each employee is), and
    # the tax side's declaration records
    # (every channel; upserted by declaration id). Money as exact decimal text.
    db.execute_sql(
        """
        CREATE TABLE fee_summary (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            summary_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            special_type TEXT,
            unit_number TEXT NOT NULL,
            agency TEXT NOT NULL,
            item TEXT NOT NULL,
            item_name TEXT NOT NULL,
            part TEXT NOT NULL,
            part_name TEXT NOT NULL,
            period_from TEXT NOT NULL,
            period_to TEXT NOT NULL,
            headcount INTEGER NOT NULL,
            base_total TEXT NOT NULL,
            amount TEXT NOT NULL,
            version INTEGER NOT NULL,
            computed_at TEXT NOT NULL,
            pack_version TEXT NOT NULL,
            state TEXT NOT NULL,
            declaration_id TEXT,
            has_details INTEGER NOT NULL,
            fetched_at TEXT NOT NULL,
            UNIQUE (unit_id, summary_id)
        )
        """
    )
    db.execute_sql("CREATE INDEX fee_summary_unit_kind ON fee_summary (unit_id, kind, period_from)")
    db.execute_sql(
        """
        CREATE TABLE fee_summary_detail (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            summary_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            row_count INTEGER NOT NULL,
            lines TEXT NOT NULL,
            people TEXT NOT NULL,
            downloaded_at TEXT NOT NULL,
            UNIQUE (unit_id, summary_id)
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE fee_record (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            declaration_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL,
            received_at TEXT NOT NULL,
            decided_at TEXT,
            declared_on TEXT,
            summary_count INTEGER NOT NULL,
            total_amount TEXT,
            summaries TEXT NOT NULL,
            arrears TEXT NOT NULL,
            voided_at TEXT,
            void_id TEXT,
            synced_at TEXT NOT NULL,
            UNIQUE (unit_id, declaration_id)
        )
        """
    )


def _v7_payment(db: peewee.SqliteDatabase) -> None:
    # 费款缴纳 (3.1.7). The last arrears list per unit (replaced on each refresh, with when and
    # the tax side's date and totals), the agreements, debits with their per-arrear results,
    # voucher print records and payment records (upserted by the tax side's ids). Money as
    # exact decimal text; ids and tickets as text.
    db.execute_sql(
        """
        CREATE TABLE payment_arrear (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            arrear_id TEXT NOT NULL,
            declaration_id TEXT NOT NULL,
            summary_id TEXT NOT NULL,
            unit_number TEXT NOT NULL,
            agency TEXT NOT NULL,
            item TEXT NOT NULL,
            item_name TEXT NOT NULL,
            part TEXT NOT NULL,
            part_name TEXT NOT NULL,
            period_from TEXT NOT NULL,
            period_to TEXT NOT NULL,
            amount TEXT NOT NULL,
            deadline TEXT NOT NULL,
            late_days INTEGER NOT NULL,
            late_fee TEXT NOT NULL,
            total TEXT NOT NULL,
            state TEXT NOT NULL,
            hold TEXT,
            voucher_id TEXT,
            debit_id TEXT,
            paid_at TEXT,
            tax_ticket TEXT,
            UNIQUE (unit_id, arrear_id)
        )
        """
    )
    db.execute_sql("CREATE INDEX payment_arrear_deadline ON payment_arrear (unit_id, deadline, arrear_id)")
    db.execute_sql(
        """
        CREATE TABLE payment_arrear_fetch (
            unit_id INTEGER PRIMARY KEY REFERENCES unit (id) ON DELETE CASCADE,
            fetched_at TEXT NOT NULL,
            today TEXT NOT NULL,
            count INTEGER NOT NULL,
            amount_total TEXT NOT NULL,
            late_fee_total TEXT NOT NULL
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE payment_agreement (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            agreement_id TEXT NOT NULL,
            agreement_no TEXT NOT NULL,
            bank TEXT NOT NULL,
            account_masked TEXT NOT NULL,
            account_name TEXT NOT NULL,
            scope TEXT NOT NULL,
            state TEXT NOT NULL,
            can_debit_fees INTEGER NOT NULL,
            reason TEXT,
            fetched_at TEXT NOT NULL,
            UNIQUE (unit_id, agreement_id)
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE payment_debit (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            debit_id TEXT NOT NULL,
            entry_id INTEGER,
            agreement_id TEXT NOT NULL,
            agreement_no TEXT NOT NULL,
            received_at TEXT NOT NULL,
            debited_on TEXT NOT NULL,
            status TEXT NOT NULL,
            paid_count INTEGER NOT NULL,
            failed_count INTEGER NOT NULL,
            unknown_count INTEGER NOT NULL,
            paid_total TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (unit_id, debit_id)
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE payment_debit_result (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            debit_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            arrear_id TEXT NOT NULL,
            status TEXT NOT NULL,
            amount TEXT NOT NULL,
            late_fee TEXT NOT NULL,
            total TEXT NOT NULL,
            tax_ticket TEXT,
            payment_id TEXT,
            code TEXT,
            message TEXT,
            UNIQUE (unit_id, debit_id, arrear_id)
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE payment_voucher (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            voucher_id TEXT NOT NULL,
            voucher_no TEXT NOT NULL,
            state TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            issued_on TEXT NOT NULL,
            deadline TEXT NOT NULL,
            count INTEGER NOT NULL,
            total TEXT NOT NULL,
            arrear_ids TEXT NOT NULL,
            body TEXT NOT NULL,
            pdf_path TEXT,
            printed_count INTEGER NOT NULL DEFAULT 0,
            paid_at TEXT,
            voided_at TEXT,
            refreshed_at TEXT NOT NULL,
            UNIQUE (unit_id, voucher_id)
        )
        """
    )
    db.execute_sql("CREATE INDEX payment_voucher_issued ON payment_voucher (unit_id, issued_on)")
    db.execute_sql(
        """
        CREATE TABLE payment_record (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            payment_id TEXT NOT NULL,
            tax_ticket TEXT NOT NULL,
            method TEXT NOT NULL,
            debit_id TEXT,
            voucher_id TEXT,
            agreement_no TEXT,
            bank TEXT,
            arrear_id TEXT NOT NULL,
            unit_number TEXT NOT NULL,
            agency TEXT NOT NULL,
            item TEXT NOT NULL,
            item_name TEXT NOT NULL,
            part TEXT NOT NULL,
            part_name TEXT NOT NULL,
            period_from TEXT NOT NULL,
            period_to TEXT NOT NULL,
            amount TEXT NOT NULL,
            late_fee TEXT NOT NULL,
            total TEXT NOT NULL,
            paid_at TEXT NOT NULL,
            arrival TEXT NOT NULL,
            stored_at TEXT,
            synced_at TEXT NOT NULL,
            UNIQUE (unit_id, payment_id)
        )
        """
    )
    db.execute_sql("CREATE INDEX payment_record_period ON payment_record (unit_id, period_from, period_to)")


def _v8_operators(db: peewee.SqliteDatabase) -> None:
    # 多人使用 (client/core/operators.py): the mode, roles (built-in ones keyed; their
    # permissions live in code), operators with a scrypt hash, and the units each may use
    # (the tax side's unit ids). Audit rows keep the operator's name, so no key to here.
    db.execute_sql("CREATE TABLE operator_config (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute_sql(
        """
        CREATE TABLE operator_role (
            id INTEGER PRIMARY KEY,
            key TEXT UNIQUE,
            name TEXT NOT NULL UNIQUE,
            permissions TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL
        )
        """
    )
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")  # both engines: no SQL clock
    for key, name in (("admin", "管理员"), ("hr", "人事专员"), ("finance", "财务"), ("readonly", "只读")):
        db.execute_sql(
            "INSERT INTO operator_role (key, name, created_at) VALUES (?, ?, ?)", (key, name, now)
        )
    db.execute_sql(
        """
        CREATE TABLE operator (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            login_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            role_id INTEGER NOT NULL REFERENCES operator_role (id),
            frozen INTEGER NOT NULL DEFAULT 0,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            last_login_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute_sql(
        """
        CREATE TABLE operator_unit (
            operator_id INTEGER NOT NULL REFERENCES operator (id) ON DELETE CASCADE,
            unit_id TEXT NOT NULL,
            PRIMARY KEY (operator_id, unit_id)
        )
        """
    )
    db.execute_sql("CREATE INDEX audit_log_operator ON audit_log (operator, at)")


def _v12_home_status(db: peewee.SqliteDatabase) -> None:
    # The home page counts the paying employees without a payroll base each time it opens:
    # this partial index holds only rows whose bases text has no non-zero amount (a handful
    # of a unit's 100,000), so the count never reads every employee's bases
    # (client/core/home_status.py names it, with this very condition).
    db.execute_sql(
        "CREATE INDEX enrollment_employee_no_base ON enrollment_employee (unit_id) "
        "WHERE removed = 0 AND status = '正常缴费' AND (instr(bases, '\"0.00\"') > 0 OR instr(bases, '.') = 0)"
    )


def _v13_operator_must_change(db: peewee.SqliteDatabase) -> None:
    # After an administrator's 重置密码 the operator must choose their own password at the
    # next login (client/core/operators.py), as the first declaration-password login does.
    db.execute_sql("ALTER TABLE operator ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0")


def _v15_team_edits(db: peewee.SqliteDatabase) -> None:
    # Team mode (issue 18). A draft row's version: a save that loaded an older one is
    # refused instead of silently overwriting another clerk's edit (client/core/wage_base.py).
    db.execute_sql("ALTER TABLE wage_base_draft ADD COLUMN row_version INTEGER NOT NULL DEFAULT 1")
    # Who is running a per-unit activity (the enrollment update) and how far it got: a desk
    # that finds the unit's lock taken shows this instead of failing (client/core/desk_activity.py).
    db.execute_sql(
        """
        CREATE TABLE desk_activity (
            unit_id INTEGER NOT NULL REFERENCES unit (id) ON DELETE CASCADE,
            activity TEXT NOT NULL,
            desk TEXT NOT NULL,
            operator TEXT NOT NULL DEFAULT '',
            done INTEGER NOT NULL DEFAULT 0,
            total INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (unit_id, activity)
        )
        """
    )


def _v16_team_state(db: peewee.SqliteDatabase) -> None:
    # Team-wide flags every desk sees, e.g. senders paused by a restore (client/core/team_state.py).
    db.execute_sql(
        "CREATE TABLE team_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
        "updated_at TEXT NOT NULL, operator TEXT NOT NULL DEFAULT '')"
    )


def _v17_operator_login_lower(db: peewee.SqliteDatabase) -> None:
    # Login names are unique whatever their case on both engines: the column's COLLATE NOCASE
    # does not exist on PostgreSQL (the DDL translation drops it), an index on lower() does
    # (login names are printable ASCII, where both engines' lower() agree).
    db.execute_sql("CREATE UNIQUE INDEX operator_login_name_lower ON operator (lower(login_name))")


MIGRATIONS: tuple[Step, ...] = (
    _v1_units,
    _v2_audit_log,
    _v3_enrollment,
    _v4_login_notices_rules,
    _v5_wage_base_and_journal,
    _v6_fee_declarations,
    _v7_payment,
    _v8_operators,
    create_query_tables,  # v9: client/core/queries_schema.py
    create_certificate_tables,  # v10: client/core/certificate_schema.py
    create_query_detail_tables,  # v11: client/core/query_details_schema.py
    _v12_home_status,
    _v13_operator_must_change,
    add_arrival_paid_on,  # v14: client/core/queries_schema.py
    _v15_team_edits,
    _v16_team_state,
    _v17_operator_login_lower,  # client/core/operators.py
)
LATEST = len(MIGRATIONS)
