"""The steps of `socialfee month ...`, one unit each, over the services the pages use.

Each step gets a :class:`client.cli_month.UnitRun` for a unit that is logged in (or, for
the local ones, just known), says what happened in Chinese lines and fills ``run.result``
for --json. Submissions are written to the journal by the same core functions as the
pages and sent by the one sender (client/sync/outbox.py) in this process; what becomes of
the entry decides the exit code (client/cli_month.py).
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

from client.backup import service as backup_service
from client.cli_month import UnitRun, Unresolved
from client.cli_month_export import file_part
from client.core import (
    audit,
    journal,
    wage_base,
    wage_context,
    wage_import,
    wage_report,
    wage_submit,
)
from client.core import fee_declaration as fees
from client.core import payment as pay_core
from client.core import payment_records as records
from client.errors import ConflictError, TaxSideRejection, ValidationError
from client.sync import fee_declaration as fee_sync
from client.sync.payment import PaymentService

MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # as the page's import
SHOWN_PROBLEMS = 200  # lines printed; the error report and --json have them all
SHOWN_REASONS = 20
PAUSED = "恢复备份后发送已暂停：请先在客户端「系统设置 > 备份与恢复」中查看备份之后的申报记录，再运行 feedback 发送"


class RowsRefused(ValidationError):
    """The file had rows with errors (or the tax side refused rows): exit 1."""

    code = "rows_refused"


def money(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}"


def _reasons(entry: journal.Entry) -> list[str]:
    lines = []
    for r in entry.reasons[:SHOWN_REASONS]:
        row = f"第 {r['row']} 行：" if r.get("row") else ""
        lines.append(f"{row}{r.get('message') or ''}")
    if len(entry.reasons) > SHOWN_REASONS:
        lines.append(f"……共 {len(entry.reasons)} 条原因，其余请在客户端「申报记录」中查看")
    return lines


# -- sending through the one sender ----------------------------------------------------------------
def send_entry(run: UnitRun, entry_id: int, what: str) -> journal.Entry:
    """Send what waits for the unit (this entry among it) and say what became of the entry."""
    session, store = run.session, run.store
    outbox = session.outbox
    if outbox.paused():
        run.result["entry"] = journal.get(store, entry_id).to_dict()
        raise ConflictError(f"{what}已保存为待提交。{PAUSED}", code="sending_paused")
    report = session.call(lambda c: outbox.send(c, run.pk, run.unit.unit_id))
    entry = journal.get(store, entry_id)
    run.result["entry"] = entry.to_dict()
    run.result["send"] = report.to_dict()
    if entry.state == journal.QUEUED:
        raise Unresolved(
            f"{what}未能发出（{entry.last_error or report.error}），已保存为待提交：恢复连接后运行 {run.hint()} 发送并获取反馈",
            code="queued",
        )
    if entry.state in (journal.SENDING, journal.UNKNOWN):
        raise Unresolved(
            f"{what}已发出但未收到税务端的应答（{entry.last_error or report.error}），无法确定税务端是否已收到。"
            f"请勿重复提交：稍后运行 {run.hint()}，客户端会按申报的唯一标识向税务端确认结果（不会重复提交）"
        )
    if entry.state == journal.REJECTED:
        for line in _reasons(entry):
            run.say(line)
        raise TaxSideRejection(f"{what}被税务端拒绝：{entry.state_label}", code="rejected")
    if entry.state == journal.AWAITING:
        run.say(f"{what}已发送到税务端，等待反馈：稍后运行 {run.hint()}")
    else:
        run.say(f"{what}：{entry.state_label}")
    return entry


# -- 职工参保信息更新 ------------------------------------------------------------------------------------
def enrollment(run: UnitRun) -> None:
    mode = "full" if run.options.get("full") else "incremental"
    job = run.session.start_enrollment_sync(mode)
    result = run.job_result(job.id)
    run.result["enrollment"] = result
    run.say(str(result.get("message") or "职工参保信息已更新"))


# -- 缴费工资申报: import and submit -----------------------------------------------------------------------
def _draft(run: UnitRun) -> wage_context.DraftContext:
    session, unit = run.session, run.unit
    return wage_context.open_draft(run.pk, unit.unit_id, unit.region, unit.region_label,
                                   run.options.get("kind") or wage_context.DAILY, session.business_date())


def wage_import_file(run: UnitRun) -> None:
    """导入 as the page does: the operator's choice over a non-empty draft first, then the
    file's rows checked; good rows go into the draft, every problem is printed by row and
    field, and the error report is saved. Rows with errors: exit 1, nothing is submitted."""
    store, services = run.store, run.services
    path: Path = run.options["file"]
    ctx = _draft(run)
    merge, replace = bool(run.options.get("merge")), bool(run.options.get("replace"))
    try:
        existing = wage_base.confirm_replace(store, ctx, replace, merge)
    except ConflictError as exc:
        raise ConflictError(f"{exc.message}命令行请加 --merge（合并）或 --replace（覆盖）。", code=exc.code) from None
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_UPLOAD_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"无法读取文件 {path}（{exc.strerror or exc}）", field="file") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError("文件超过 64 MB，请拆分后分别导入", field="file")
    result = wage_import.import_file(data, path.name, wage_base.enrolled(store, ctx.unit_pk), ctx)
    kept = bool(existing and not result.rows)
    if existing and not kept:
        backup_service.backup_before(services, f"导入{'合并到' if merge else '覆盖'}缴费工资申报列表之前")
    saved = 0 if kept else wage_base.save_import(store, ctx, result, replace=not merge, merge=merge)
    report = services.home / "reports" / f"wage-base-{ctx.unit_pk}-{ctx.kind}-import-errors.xlsx"
    if result.problems:
        report.parent.mkdir(parents=True, exist_ok=True)
        wage_report.write_error_report(result, report)
    else:
        report.unlink(missing_ok=True)
    bad_rows = len(result.error_rows)
    label = wage_context.KIND_LABELS[ctx.kind]
    how = "合并" if merge else ("覆盖" if existing else "")
    audit.record(store, f"导入{label}", f"{path.name}：{how}导入 {saved} 行" + (f"，{bad_rows} 行有错误未导入" if bad_rows else ""),
                 unit_id=ctx.unit_pk)
    run.result["import"] = {
        "file": str(path), "imported": saved, "total_rows": result.total_rows, "bad_rows": bad_rows, "kept": kept,
        "problems": [{"row": p.row, "column": p.column, "value": p.value, "message": p.message,
                      "severity": p.severity} for p in result.problems],
        "report": str(report) if result.problems else None,
    }
    run.say(f"{path.name}：共 {result.total_rows} 行，导入 {saved} 行" + (f"，{bad_rows} 行有错误未导入" if bad_rows else "")
            + ("；没有可导入的行，申报列表保持不变" if kept else ""))
    for p in result.problems[:SHOWN_PROBLEMS]:
        run.say(("错误　" if p.severity == "error" else "提示　") + p.text)
    if len(result.problems) > SHOWN_PROBLEMS:
        run.say(f"……共 {len(result.problems)} 条问题，全部列在错误报告中")
    if result.problems:
        run.say(f"错误报告：{report}")
    if bad_rows:
        raise RowsRefused(f"{bad_rows} 行有错误未导入，未提交申报：请修正后重新导入（--merge 合并到申报列表）")
    if run.options.get("submit"):
        wage_submit_draft(run)


def wage_submit_draft(run: UnitRun) -> None:
    """提交 the unit's draft: one journal entry, then the one sender."""
    store = run.store
    ctx = _draft(run)
    label = wage_context.KIND_LABELS[ctx.kind]
    if not wage_base.count(store, ctx):
        run.say(f"{label}列表为空，没有需要提交的申报")
        return
    try:
        entry_id = wage_submit.submit(store, ctx, audit.current_operator(), confirmed=bool(run.options.get("yes")))
    except ConflictError as exc:
        if exc.code != "confirm_submit":
            raise
        message = exc.message.replace("可勾选「只看有提示」查看这些行。确定要提交吗？", "")
        raise ConflictError(f"{message}。核对无误后加 --yes 再提交", code=exc.code) from None
    entry = journal.get(store, entry_id)
    audit.record(store, f"提交{label}", entry.summary, unit_id=ctx.unit_pk)
    run.say(f"已提交：{entry.summary}")
    send_entry(run, entry_id, label)


# -- 获取反馈 ------------------------------------------------------------------------------------------------
def feedback(run: UnitRun) -> None:
    """Send what waits (an unknown outcome is resolved by its key, never sent blindly), then
    ask about every 待反馈 entry of every kind; list what was decided."""
    session, store, pk = run.session, run.store, run.pk
    outbox = session.outbox
    before = {e.id: e.state for e in journal.entries(store, pk, journal.OPEN_STATES)}
    if outbox.paused():
        raise ConflictError(PAUSED, code="sending_paused")
    sent = session.call(lambda c: outbox.send(c, pk, run.unit.unit_id))
    got = session.call(lambda c: outbox.fetch_feedback(c, pk, run.unit.unit_id))
    decided, still = [], []
    for entry_id in before:
        entry = journal.get(store, entry_id)
        if entry.state in (journal.ACCEPTED, journal.REJECTED):
            decided.append(entry)
        else:
            still.append(entry)
    run.result.update(send=sent.to_dict(), feedback=got.to_dict(),
                      decided=[{**e.to_dict(), "reasons": e.reasons[:200]} for e in decided],
                      open=[e.to_dict() for e in still])
    if not before:
        run.say("无需获取反馈：没有待提交或待反馈的申报")
        return
    if sent.sent or sent.refused:
        run.say(sent.message)
    for e in decided:
        run.say(f"{e.kind_label}：{e.summary} —— {e.state_label}")
        if e.state == journal.REJECTED:
            for line in _reasons(e):
                run.say(f"  {line}")
    for e in still:
        run.say(f"{e.kind_label}：{e.summary} —— {e.state_label}")
    if got.processing:
        run.say(f"{got.processing} 笔税务端仍在处理，请稍后再运行 {run.hint()}")
    unresolved = [e for e in still if e.state in journal.TO_SEND]
    if unresolved:
        raise Unresolved(
            f"{len(unresolved)} 笔申报仍未确认或未发出（{sent.error or unresolved[0].last_error}）：稍后再运行 {run.hint()}"
        )
    if any(e.state == journal.REJECTED for e in decided):
        raise TaxSideRejection("有申报被税务端拒绝，原因见上", code="rejected")


# -- 社保费申报 ----------------------------------------------------------------------------------------------
def _summaries(run: UnitRun) -> list[fees.Summary]:
    kind = run.options.get("kind") or "daily"
    service = fee_sync.FeeDeclarationService(run.session)
    refreshed = service.refresh(kind)
    run.result["refresh"] = refreshed.to_dict()
    return fees.summaries(run.store, run.pk, kind)


def summaries(run: UnitRun) -> None:
    found = _summaries(run)
    run.result["summaries"] = [s.to_dict() for s in found]
    run.say(run.result["refresh"]["message"])
    for s in found:
        state = "已提交申报" if s.submitted else fees.SUMMARY_STATE_LABELS.get(s.state, s.state)
        run.say(f"{s.summary_id}　{s.label}　{s.headcount} 人　缴费基数 {money(s.base_total)}　"
                f"应缴 {money(s.amount)} 元　{state}")


def declare(run: UnitRun) -> None:
    """提交申报 of the chosen summaries (default: every pending one not submitted yet)."""
    found = _summaries(run)
    wanted = list(run.options.get("summary_ids") or ())
    chosen = wanted or [s.summary_id for s in found if s.state == "pending" and not s.submitted]
    if not chosen:
        run.say("没有待申报的预处理汇总数据")
        return
    entry_id = fees.declare(run.store, run.pk, chosen, audit.current_operator())
    entry = journal.get(run.store, entry_id)
    audit.record(run.store, "提交社保费申报", entry.summary, unit_id=run.pk)
    run.say(f"已提交：{entry.summary}")
    send_entry(run, entry_id, "社保费申报")


# -- 欠费 and 缴款凭证 --------------------------------------------------------------------------------------------
def arrears(run: UnitRun) -> None:
    service = PaymentService(run.session)
    refreshed = service.refresh()
    view = service.arrears_view("")
    run.result["arrears"] = view.to_dict()
    run.say(refreshed.message)
    for line in view.items:
        a = line.arrear
        where = "" if line.payable else f"　{line.open_entry or a.hold or a.state}"
        run.say(f"{a.arrear_id}　{a.item_name} {a.part_name} {a.period_label}　应缴 {money(a.amount)} 元　"
                f"滞纳金 {money(a.late_fee)} 元　缴款期限 {a.deadline}{where}")
    if view.count:
        run.say(f"合计 {view.count} 条，应缴 {money(view.amount_total)} 元，滞纳金 {money(view.late_fee_total)} 元，"
                f"共 {money(view.total)} 元")


def vouchers(run: UnitRun) -> None:
    """开具 (with --issue: one voucher over the payable arrears, per 1,000) and 打印 of every
    unpaid voucher of this PC's records, as PDFs copied into the folder."""
    service, store, pk = PaymentService(run.session), run.store, run.pk
    folder: Path = run.options["out"]
    folder.mkdir(parents=True, exist_ok=True)
    issued = []
    if run.options.get("issue"):
        service.refresh()
        payable = [line.arrear.arrear_id for line in service.arrears_view("").items if line.payable]
        if not payable:
            run.say("没有可开具缴款凭证的欠费")
        for start in range(0, len(payable), pay_core.MAX_ARREARS):
            result = service.issue_voucher(payable[start:start + pay_core.MAX_ARREARS], audit.current_operator())
            audit.record(store, "开具银行端缴款凭证", result.entry.summary, unit_id=pk)
            issued.append(result.to_dict())
            run.result["issued"] = issued
            if result.entry.state in (*journal.TO_SEND,):
                raise Unresolved(f"{result.message}：稍后运行 {run.hint()} 确认开具结果")
            if not result.ok:
                raise TaxSideRejection(result.message, code="voucher_refused")
            run.say(result.message)
    printed = []
    for voucher in records.vouchers(store, pk):
        if not voucher.can_print:
            continue
        try:  # the state is asked of the tax side first: paid or voided meanwhile is not printed
            found, path = service.print_voucher(voucher.voucher_id)
        except ValidationError as exc:
            run.say(exc.message)
            continue
        audit.record(store, "打印银行端缴款凭证", found.voucher_no, unit_id=pk)
        target = folder / f"{file_part(run.unit.unit_id)}-缴款凭证{found.voucher_no}.pdf"
        shutil.copyfile(path, target)
        printed.append({**found.to_dict(), "file": str(target)})
        run.say(f"缴款凭证 {found.voucher_no}　{found.count} 条欠费　合计 {money(found.total)} 元　"
                f"缴款期限 {found.deadline} → {target}")
    run.result["vouchers"] = printed
    if not printed:
        run.say("没有待缴款的银行端缴款凭证可打印")
