"""`socialfee month ...` against the live reference tax side: a whole month for two units
from the command line (update, import and submit, feedback, declare, arrears, vouchers,
export), passwords from standard input or the keyring, exit codes, --json, a lost answer
resolved by feedback without a second submission, and the desktop client holding the
data folder."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook, load_workbook
from pypdf import PdfReader

from client.app import build_services
from client.cli import cli
from client.core.store import DB_FILE
from tests.conftest import NEW_PASSWORD, log_in
from tests.taxside_fixtures import LiveTaxSide

INDEXES = (0, 2)  # seed 3: two 税务自主征收 units of different taxpayers
PASSWORD_LINE = NEW_PASSWORD + "\n"


def month(home: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), "month", *args], input=input, catch_exceptions=False)


def month_json(home: Path, *args: str, input: str | None = None) -> tuple[int, dict[str, Any]]:
    result = month(home, *args, "--json", input=input)
    return result.exit_code, json.loads(result.stdout)


def taxside_count(taxside: LiveTaxSide, table: str, unit_id: str | None = None) -> int:
    conn = sqlite3.connect(taxside.db_path)
    try:
        if unit_id is None:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        sql = f"SELECT count(*) FROM {table} t JOIN unit u ON u.id = t.unit_pk WHERE u.unit_id = ?"
        return int(conn.execute(sql, (unit_id,)).fetchone()[0])
    finally:
        conn.close()


def local(home: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(home / DB_FILE)
    try:
        return conn.execute(sql, tuple(params)).fetchall()
    finally:
        conn.close()


@pytest.fixture
def live(taxside_factory: Any) -> LiveTaxSide:
    taxside = taxside_factory(units=3, employees=12, seed=3)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    return taxside


@pytest.fixture
def prepared(home: Path, live: LiveTaxSide) -> list[Any]:
    """Both units logged in once on this PC (initial password changed), then the client closed."""
    svc = build_services(home)
    try:
        creds = [log_in(svc, live, index=i) for i in INDEXES]
        svc.session.logout()
    finally:
        svc.close()
    return creds


def payroll_file(home: Path, unit_id: str, target: Path, *, bad_row: bool = False, base: str = "9000") -> Path:
    """The unit's normal employees with a new base of 9000 from 2025-03 (the tax side's month)."""
    people = local(home, "SELECT e.name, e.id_number FROM enrollment_employee e JOIN unit u ON u.id = e.unit_id "
                         "WHERE u.taxside_unit_id = ? AND e.status = '正常缴费' AND e.removed = 0 ORDER BY e.id",
                   (unit_id,))
    assert people
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "证件号码", "新缴费工资", "生效年月"])
    for name, id_number in people:
        sheet.append([name, id_number, base, "202503"])
    if bad_row:
        sheet.append(["某某", "110105199001011234", "9000", "202503"])  # not an employee of the unit
    book.save(target)
    return target


def test_a_month_for_two_units(home: Path, live: LiveTaxSide, prepared: list[Any], tmp_path: Path) -> None:
    first, second = (c.unit_id for c in prepared)
    every = ("--all", "--password-stdin")

    listed = month(home, "units")
    assert listed.exit_code == 0 and first in listed.output and second in listed.output

    update = month(home, "enrollment", *every, "--full", input=PASSWORD_LINE)
    assert update.exit_code == 0, update.output
    assert update.output.count("【") == 2

    # A file with a row that is no employee of the unit: the row and field named, exit 1, nothing sent.
    bad = month(home, "wage-import", str(payroll_file(home, first, tmp_path / "bad.xlsx", bad_row=True)),
                "--unit", first, "--submit", "--password-stdin", input=PASSWORD_LINE)
    assert bad.exit_code == 1, bad.output
    row_count = len(local(home, "SELECT 1 FROM enrollment_employee e JOIN unit u ON u.id = e.unit_id "
                                "WHERE u.taxside_unit_id = ? AND e.status = '正常缴费' AND e.removed = 0", (first,)))
    assert f"第 {row_count + 2} 行「证件号码」" in bad.output and "未提交申报" in bad.output
    assert taxside_count(live, "wage_base_declaration") == 0

    # The corrected file over the draft: --replace, then submitted through the journal.
    for unit_id in (first, second):
        good = month(home, "wage-import", str(payroll_file(home, unit_id, tmp_path / f"{unit_id}.xlsx")),
                     "--unit", unit_id, "--replace", "--submit", "--yes", "--password-stdin", input=PASSWORD_LINE)
        assert good.exit_code == 0, good.output
        assert "已发送到税务端，等待反馈" in good.output
    assert taxside_count(live, "wage_base_declaration") == 2

    code, fed = month_json(home, "feedback", *every, input=PASSWORD_LINE)
    assert code == 0 and fed["ok"] and [u["unit_id"] for u in fed["units"]] == sorted([first, second])
    assert all(d["state"] == "accepted" for u in fed["units"] for d in u["decided"])

    code, listed_json = month_json(home, "summaries", *every, input=PASSWORD_LINE)
    assert code == 0
    pending = {u["unit_id"]: u["summaries"] for u in listed_json["units"]}
    assert all(pending.values()) and all(isinstance(s["amount"], str) for s in pending[first])

    declared = month(home, "declare", *every, input=PASSWORD_LINE)
    assert declared.exit_code == 0, declared.output
    assert taxside_count(live, "fee_declaration") == 2
    again = month(home, "declare", *every, input=PASSWORD_LINE)  # nothing left to declare
    assert again.exit_code == 0 and "没有待申报" in again.output
    assert taxside_count(live, "fee_declaration") == 2
    assert month(home, "feedback", *every, input=PASSWORD_LINE).exit_code == 0

    code, owed = month_json(home, "arrears", *every, input=PASSWORD_LINE)
    assert code == 0
    for unit in owed["units"]:
        items = unit["arrears"]["items"]
        assert items and all(isinstance(i["amount"], str) and isinstance(i["arrear_id"], str) for i in items)

    out = tmp_path / "vouchers"
    printed = month(home, "vouchers", *every, "--issue", "--out", str(out), input=PASSWORD_LINE)
    assert printed.exit_code == 0, printed.output
    pdfs = sorted(out.glob("*.pdf"))
    assert {p.name.split("-")[0] for p in pdfs} == {first, second}
    assert taxside_count(live, "voucher") == len(pdfs)
    for pdf in pdfs:
        voucher_no = pdf.stem.split("缴款凭证")[1]
        text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
        assert voucher_no in text
    # Printing again prints the same unpaid vouchers, issues nothing new.
    assert month(home, "vouchers", *every, "--out", str(out), input=PASSWORD_LINE).exit_code == 0
    assert taxside_count(live, "voucher") == len(pdfs)

    code, exported = month_json(home, "export", "--all", "--out", str(tmp_path / "export"))
    assert code == 0 and all(len(u["files"]) == 4 for u in exported["units"])
    sheet = load_workbook(tmp_path / "export" / f"{first}-参保职工.xlsx").active
    header = [c.value for c in sheet[1]]
    ids = [row[header.index("证件号码")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert ids and all(isinstance(i, str) and len(i) == 18 for i in ids)
    book = load_workbook(tmp_path / "export" / f"{first}-缴费工资申报记录.xlsx")
    rows = list(book["申报明细"].iter_rows(min_row=2, values_only=True))
    assert rows and all(isinstance(r[4], str) for r in rows) and all(r[7] == 9000 for r in rows)
    fees = load_workbook(tmp_path / "export" / f"{first}-社保费申报记录.xlsx")
    records = list(fees["申报记录"].iter_rows(min_row=2, values_only=True))
    assert len(records) == 1 and isinstance(records[0][0], str) and isinstance(records[0][5], (int, float))
    # Counts are number cells (汇总条数, 人数), not text: Excel can sum them.
    fee_head = [c.value for c in fees["申报记录"][1]]
    count_cell = fees["申报记录"].cell(row=2, column=fee_head.index("汇总条数") + 1)
    assert count_cell.data_type == "n" and count_cell.value >= 1
    summary_head = [c.value for c in fees["汇总明细"][1]]
    heads = [row[summary_head.index("人数")] for row in fees["汇总明细"].iter_rows(min_row=2)]
    assert heads and all(c.data_type == "n" and isinstance(c.value, int) and c.value > 0 for c in heads)
    wage_head = [c.value for c in book["申报记录"][1]]
    persons = [row[wage_head.index("人数")] for row in book["申报记录"].iter_rows(min_row=2)]
    assert persons and all(c.data_type == "n" and isinstance(c.value, int) for c in persons)
    assert sum(c.value for c in persons) == len(rows)  # each entry's count matches its rows


def test_passwords_per_unit_and_a_wrong_one(home: Path, live: LiveTaxSide, prepared: list[Any]) -> None:
    first, second = (c.unit_id for c in prepared)
    wrong = month(home, "declare", "--unit", first, "--unit", second, "--password-stdin",
                  input=f"Wrong-{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert wrong.exit_code == 4, wrong.output
    assert "申报密码错误" in wrong.output
    # The unit whose password was refused sent nothing; the other one went on.
    assert taxside_count(live, "fee_declaration", first) == 0
    assert taxside_count(live, "fee_declaration", second) == 1
    assert not local(home, "SELECT 1 FROM submission s JOIN unit u ON u.id = s.unit_id WHERE u.taxside_unit_id = ?",
                     (first,))

    # Lines that do not match the units: usage, before anything is sent.
    mismatch = month(home, "declare", "--all", "--password-stdin", input="a1\nb2\nc3\n")
    assert mismatch.exit_code == 2 and "3 行密码" in mismatch.output

    # No password given and none saved: exit 4 naming both ways to give one.
    missing = month(home, "arrears", "--unit", first)
    assert missing.exit_code == 4 and "--password-stdin" in missing.output and "save-password" in missing.output


def test_password_saved_in_the_keyring(home: Path, live: LiveTaxSide, prepared: list[Any],
                                       memory_keyring: Any) -> None:
    first = prepared[0].unit_id
    refused = month(home, "save-password", "--unit", first, input="Wrong-pass-1\n")
    assert refused.exit_code == 4 and not memory_keyring.entries
    saved = month(home, "save-password", "--unit", first, input=PASSWORD_LINE)
    assert saved.exit_code == 0, saved.output
    code, owed = month_json(home, "arrears", "--unit", first)  # no stdin: the keyring's password
    assert code == 0 and owed["units"][0]["ok"]
    assert "已保存申报密码" in month(home, "units").output


def test_lost_answer_exits_3_then_feedback_resolves_it_once(home: Path, live: LiveTaxSide,
                                                          prepared: list[Any]) -> None:
    unit_id = prepared[0].unit_id
    live.fault(f"/v1/units/{unit_id}/fee-declarations", "drop_after_commit", method="POST", count=5)
    code, lost = month_json(home, "declare", "--unit", unit_id, "--password-stdin", input=PASSWORD_LINE)
    assert code == 3 and lost["exit_code"] == 3
    error = lost["units"][0]["error"]
    assert error["code"] == "outcome_unknown" and f"feedback --unit {unit_id}" in error["message"]
    assert lost["units"][0]["entry"]["state"] == "unknown"
    assert taxside_count(live, "fee_declaration") == 1  # it did arrive
    live.clear_faults()

    resolved = month(home, "feedback", "--unit", unit_id, "--password-stdin", input=PASSWORD_LINE)
    assert resolved.exit_code == 0, resolved.output
    assert "申报成功" in resolved.output
    assert taxside_count(live, "fee_declaration") == 1  # asked by its key, never sent twice
    assert local(home, "SELECT state FROM submission WHERE kind = 'fee_declaration'") == [("accepted",)]


def test_unreachable_tax_side_exits_3(home: Path, live: LiveTaxSide, prepared: list[Any]) -> None:
    live.running.stop()
    code, result = month_json(home, "feedback", "--all", "--password-stdin", input=PASSWORD_LINE)
    assert code == 3 and [u["exit_code"] for u in result["units"]] == [3, 3]
    error = result["units"][0]["error"]
    assert error["code"] == "network_unreachable" and "离线进入" not in error["message"]


def test_feedback_while_the_tax_side_still_decides(home: Path, live: LiveTaxSide, prepared: list[Any]) -> None:
    unit_id = prepared[0].unit_id
    live.sim("PUT", "/settings", {"decision_delay_seconds": 3600})
    assert month(home, "declare", "--unit", unit_id, "--password-stdin", input=PASSWORD_LINE).exit_code == 0
    waiting = month(home, "feedback", "--unit", unit_id, "--password-stdin", input=PASSWORD_LINE)
    assert waiting.exit_code == 0 and "仍在处理" in waiting.output and "待反馈" in waiting.output
    assert taxside_count(live, "fee_declaration") == 1


def test_usage_errors_exit_2(home: Path, prepared: list[Any]) -> None:
    assert month(home, "declare").exit_code == 2
    unknown = month(home, "declare", "--unit", "U999999")
    assert unknown.exit_code == 2 and "本机没有单位 U999999" in unknown.output
    both = month(home, "declare", "--all", "--unit", prepared[0].unit_id)
    assert both.exit_code == 2


def test_refused_while_the_desktop_client_runs(home: Path, prepared: list[Any], tmp_path: Path) -> None:
    from tests.test_cli import start_headless

    proc, _url = start_headless(home)
    try:
        result = month(home, "export", "--all", "--out", str(tmp_path / "x"))
        assert result.exit_code == 5
        assert "客户端程序正在使用数据目录" in result.output and f"进程 {proc.pid}" in result.output
        assert not (tmp_path / "x").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # Closed (the OS dropped its lock): the command line may work on the folder now.
    after = month(home, "export", "--all", "--out", str(tmp_path / "x"))
    assert after.exit_code == 0, after.output


def test_one_month_command_at_a_time(home: Path, prepared: list[Any], tmp_path: Path) -> None:
    from client.core import home_lock

    with home_lock.hold(home, home_lock.CLI):
        code, refused = month_json(home, "export", "--all", "--out", str(tmp_path / "x"))
        assert code == 5 and refused["error"]["code"] == "home_in_use" and "命令行正在使用" in refused["error"]["message"]
    assert month(home, "export", "--all", "--out", str(tmp_path / "x")).exit_code == 0


def test_through_the_installed_entry_point(home: Path, live: LiveTaxSide, prepared: list[Any]) -> None:
    """The real program: exit codes reach the shell, no traceback, the password only on stdin."""
    from tests.test_cli import SOCIALFEE

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([*SOCIALFEE, "--home", str(home), "month", *args], input=stdin, capture_output=True,
                              text=True, timeout=120)

    wrong = run("declare", "--unit", prepared[0].unit_id, "--password-stdin", stdin="Wrong-pass-1\n")
    assert wrong.returncode == 4 and "申报密码错误" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "Wrong-pass-1" not in wrong.stdout + wrong.stderr
    assert taxside_count(live, "fee_declaration") == 0
    usage = run("declare")
    assert usage.returncode == 2 and "用法错误" in usage.stderr
    ok = run("summaries", "--all", "--password-stdin", "--json", stdin=PASSWORD_LINE)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True


def test_no_units_yet(home: Path) -> None:
    listed = month(home, "units")
    assert listed.exit_code == 0 and "本机还没有单位" in listed.output
    assert month(home, "feedback", "--all").exit_code == 2


def test_operator_narrows_the_units(home: Path, prepared: list[Any], tmp_path: Path) -> None:
    """--operator: only the units assigned to that operator (over --all / --unit), after signing in."""
    from client.core import operators
    from client.core.operators_roles import list_roles

    first, second = (c.unit_id for c in prepared)
    svc = build_services(home)
    try:
        clerk = next(r for r in list_roles(svc.store) if r.key == "readonly")  # 只读 may export everything
        operators.add_operator(svc.store, "张会计", "zhang", "Zhang-2025-pw", "Zhang-2025-pw", clerk.id, [second])
    finally:
        svc.close()
    pw = "Zhang-2025-pw\n"  # --operator signs in (password from stdin), in 单人使用 too
    code, done = month_json(home, "export", "--all", "--operator", "zhang", "--out", str(tmp_path / "x"), input=pw)
    assert code == 0 and [u["unit_id"] for u in done["units"]] == [second]
    refused = month(home, "export", "--unit", first, "--operator", "zhang", "--out", str(tmp_path / "y"), input=pw)
    assert refused.exit_code == 2 and f"单位 {first} 未分配给操作员 zhang" in refused.output
    unknown = month(home, "export", "--all", "--operator", "nobody", "--out", str(tmp_path / "z"), input=pw)
    assert unknown.exit_code == 4 and "登录名或密码不正确" in unknown.output


def test_good_rows_of_a_bad_file_submitted_after_review(home: Path, live: LiveTaxSide, prepared: list[Any],
                                                         tmp_path: Path) -> None:
    first = prepared[0].unit_id
    bad = payroll_file(home, first, tmp_path / "bad.xlsx", bad_row=True)
    code, imported = month_json(home, "wage-import", str(bad), "--unit", first, "--submit", "--password-stdin",
                                input=PASSWORD_LINE)
    assert code == 1
    result = imported["units"][0]["import"]
    assert result["bad_rows"] == 1 and result["imported"] == result["total_rows"] - 1
    (problem,) = [p for p in result["problems"] if p["severity"] == "error"]
    assert problem["column"] == "证件号码" and problem["value"] == "110105199001011234"
    assert Path(result["report"]).is_file()
    assert taxside_count(live, "wage_base_declaration") == 0

    # Reviewed: the good rows in the draft go out; the other unit has nothing to submit.
    submitted = month(home, "wage-submit", "--all", "--password-stdin", input=PASSWORD_LINE)
    assert submitted.exit_code == 0, submitted.output
    assert "列表为空" in submitted.output
    assert taxside_count(live, "wage_base_declaration", first) == 1
    assert taxside_count(live, "wage_base_declaration") == 1


def test_below_the_floor_needs_yes_then_the_rejection_exits_1(home: Path, live: LiveTaxSide,
                                                             prepared: list[Any], tmp_path: Path) -> None:
    first = prepared[0].unit_id
    low = payroll_file(home, first, tmp_path / "low.xlsx", base="100")
    asked = month(home, "wage-import", str(low), "--unit", first, "--submit", "--password-stdin", input=PASSWORD_LINE)
    assert asked.exit_code == 1 and "--yes" in asked.output
    assert taxside_count(live, "wage_base_declaration") == 0
    sent = month(home, "wage-submit", "--unit", first, "--yes", "--password-stdin", input=PASSWORD_LINE)
    assert sent.exit_code == 0, sent.output
    rejected = month(home, "feedback", "--unit", first, "--password-stdin", input=PASSWORD_LINE)
    assert rejected.exit_code == 1, rejected.output
    assert "申报失败" in rejected.output and "下限" in rejected.output and "被税务端拒绝" in rejected.output


def test_click_usage_errors_are_chinese_and_json_when_asked(home: Path, prepared: list[Any],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from client.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as ended:
            main(["--home", str(home), "month", *args])
        out, err = capsys.readouterr()
        return int(ended.value.code or 0), out, err

    code, _out, err = run("export", "--all")
    assert code == 2 and "缺少 '--out'" in err and "Missing" not in err and "。。" not in err
    code, _out, err = run("export", "--all", "--out", "x", "--what", "nope")
    assert code == 2 and "只能是 enrollment" in err and "Invalid" not in err
    code, out, _err = run("export", "--all", "--json")
    assert code == 2
    document = json.loads(out)
    assert document["ok"] is False and document["exit_code"] == 2 and "缺少" in document["error"]["message"]


def test_a_line_too_long_for_a_password_is_never_sent(home: Path, live: LiveTaxSide, prepared: list[Any]) -> None:
    unit = prepared[0].unit_id
    huge = month(home, "declare", "--unit", unit, "--password-stdin", input="x" * 5_000_000 + "\n")
    assert huge.exit_code == 2 and "标准输入超过 256 KB" in huge.output
    long = month(home, "declare", "--unit", unit, "--password-stdin", input="x" * 5_000 + "\n")
    assert long.exit_code == 2 and "第 1 行超过 32 个字符，不是密码" in long.output
    assert taxside_count(live, "fee_declaration") == 0


def test_an_output_folder_that_cannot_be_written_is_named(home: Path, prepared: list[Any], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, document = month_json(home, "export", "--all", "--out", str(blocker / "sub"))
    assert code == 1
    errors = [u["error"] for u in document["units"]]
    assert errors and all(e["code"] == "write_failed" and "无法写入" in e["message"] for e in errors)
