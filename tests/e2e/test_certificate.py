"""职工缴费证明 in the browser against the live reference tax side: find two employees (by name
and by ID number), preview a range with a paid and an unpaid month, print one PDF (read back:
names, months, totals, hashes; rendered with pdftoppm for people to look at), check a printed
hash and a foreign one in 核验, export xlsx (IDs as text, amounts as numbers)."""

from __future__ import annotations

import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from client.api import payment as payment_api
from client.sync.payment import PaymentService
from tests.conftest import NEW_PASSWORD, log_in
from tests.e2e.conftest import ARTIFACTS, PageProblems, screenshot
from tests.e2e.test_wage_base import log_in_again
from tests.sync.test_payment import declared_elsewhere, pay

pytestmark = pytest.mark.e2e


@pytest.fixture
def live(services: Any, taxside_factory: Any) -> Any:
    """One 北京 unit: 202503 declared and paid by 三方协议, 202504 declared and unpaid."""
    taxside = taxside_factory(units=1, employees=30, seed=5)
    taxside.sim("PUT", "/settings", {"decision_delay_seconds": 0})
    unit = log_in(services, taxside, index=0)
    services.session.popups_shown = True
    declared_elsewhere(taxside, unit.unit_id)
    svc = PaymentService(services.session)
    svc.refresh()
    ids = [line.arrear.arrear_id for line in svc.arrears_view().items]
    assert pay(svc, ids).ok
    taxside.sim("POST", "/advance-month")
    declared_elsewhere(taxside, unit.unit_id)
    log_in_again(services, unit.unit_id)
    return taxside


def two_employees(services: Any) -> list[tuple[str, str]]:
    pk = services.session.view().unit.local_id
    rows = services.store.db.execute_sql(
        "SELECT name, id_number FROM enrollment_employee WHERE unit_id = ? AND status = '正常缴费' AND removed = 0"
        " ORDER BY id LIMIT 2", (pk,)).fetchall()
    assert len(rows) == 2
    return [(str(n), str(i)) for n, i in rows]


def pdf_png(pdf: Path, page: int, name: str) -> Path:
    assert shutil.which("pdftoppm"), "poppler-utils (pdftoppm) is needed"
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    png = subprocess.run(["pdftoppm", "-r", "80", "-f", str(page), "-l", str(page), "-png", str(pdf)],
                         capture_output=True, check=True).stdout
    target.write_bytes(png)
    return target


def test_print_a_certificate(browser: Any, ui: Any, services: Any, live: Any, monkeypatch: Any) -> None:
    launched: list[tuple[Path, str]] = []
    monkeypatch.setattr(payment_api, "_launch", lambda path, action: launched.append((path, action)))
    (name_a, id_a), (name_b, id_b) = two_employees(services)
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    page.click("nav >> text=职工缴费证明")
    page.wait_for_url("**/certificate")
    assert page.locator("#print").is_disabled()

    page.fill('#search input[name="q"]', name_a)
    page.click("#search button[type=submit]")
    page.locator(f'#found button[data-pick="{id_a}"]').click()
    page.fill('#search input[name="q"]', id_b)
    page.click("#search button[type=submit]")
    page.locator(f'#found button[data-pick="{id_b}"]').click()
    assert name_a in page.inner_text("#chosen") and name_b in page.inner_text("#chosen")

    page.fill('#range input[name="period_from"]', "2025-01")
    page.fill('#range input[name="period_to"]', "2025-06")
    page.click("#preview")
    page.locator(".cert-person").nth(1).wait_for()
    first = page.locator(".cert-person").first.inner_text()
    assert name_a in first and "202503" in first and "202504" in first
    assert "已缴 " in first and "未缴" in first and "202502" not in first
    screenshot(page, "certificate-preview")

    page.click("#print")
    page.locator("#print-result .ok-text").wait_for()
    pdf_name = page.get_attribute("#print-result", "data-pdf-name")
    assert pdf_name
    hashes = page.locator("#print-result .cert-hashes code").all_inner_texts()
    assert len(hashes) == 2 and all(len(h) == 64 for h in hashes)
    screenshot(page, "certificate-printed")
    pdf = services.home / "certificates" / pdf_name
    reader = PdfReader(str(pdf))
    texts = [p.extract_text() for p in reader.pages]
    whole = "".join(texts)
    for name, id_number, digest in ((name_a, id_a, hashes[0]), (name_b, id_b, hashes[1])):
        assert name in whole and id_number in whole and digest[:32] in whole and digest[32:] in whole
    assert "202503" in texts[0] and "202504" in texts[0] and "本证明由 socialfee 根据税务端数据打印" in texts[0]
    totals = [t for t in page.locator(".cert-person .total-row").all_inner_texts()]
    assert len(totals) == 2
    amount = totals[0].split()[-1]
    assert amount in texts[0] and Decimal(amount.replace(",", "")) > 0
    page.click("#print-result >> text=打印")
    page.locator(".toast", has_text="已发送到系统默认打印机").wait_for()
    assert launched == [(pdf, "print")]
    pdf_png(pdf, 1, "certificate-pdf-page1.png")
    pdf_png(pdf, len(texts), "certificate-pdf-last.png")

    page.fill('#verify input[name="text"]', f"SOCIALFEE-CERT:{hashes[1]}")
    page.click("#verify button[type=submit]")
    page.locator("#verify-result.ok-text").wait_for()
    assert name_b in page.inner_text("#verify-result") and "核验通过" in page.inner_text("#verify-result")
    page.fill('#verify input[name="text"]', "f" * 64)
    page.click("#verify button[type=submit]")
    page.locator("#verify-result.error-text").wait_for()
    assert "没有打印过" in page.inner_text("#verify-result")
    assert page.locator("#records tbody tr").count() >= 2
    page.locator(f'#records button[data-open="{pdf_name}"]').first.click()
    page.locator(".toast", has_text="PDF 阅读器打开").wait_for()
    assert launched[-1] == (pdf, "open")
    screenshot(page, "certificate-verify")

    with page.expect_download() as info:
        page.click("#export")
    assert info.value.suggested_filename.startswith("职工缴费证明")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    header = [c.value for c in sheet[1]]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert {r[header.index("证件号码")] for r in rows} == {id_a, id_b}
    assert all(isinstance(r[header.index("证件号码")], str) for r in rows)
    assert all(isinstance(r[header.index("缴费基数")], int | float) for r in rows if r[header.index("险种")] != "合计")
    # Another period: the earlier preview and PDF go (not left beside a refused print).
    page.fill('#range input[name="period_from"]', "2025-08")
    page.fill('#range input[name="period_to"]', "2025-07")
    assert page.locator(".cert-person").count() == 0 and page.locator("#print-result").is_hidden()
    assert "请重新预览" in page.inner_text("#preview-stale")
    page.evaluate("document.querySelectorAll('.toast').forEach((t) => { t.dataset.old = '1'; })")
    page.click("#print")
    page.locator(".toast.error:not([data-old])").wait_for()
    assert page.locator(".cert-person").count() == 0 and page.locator("#print-result").is_hidden()
    screenshot(page, "certificate-refused-no-stale-preview")
    # Removing an employee also makes the shown preview stale.
    page.fill('#range input[name="period_from"]', "2025-01")
    page.fill('#range input[name="period_to"]', "2025-06")
    page.click("#preview")
    page.locator(".cert-person").nth(1).wait_for()
    page.locator('#chosen button[data-remove]').first.click()
    assert page.locator(".cert-person").count() == 0
    assert problems.unexpected(400) == [], problems.items
    context.close()


def test_annuity_notice_for_a_shanxi_government_unit(browser: Any, ui: Any, services: Any,
                                                     taxside_factory: Any) -> None:
    taxside = taxside_factory(units=3, employees=30, seed=5)
    unit = log_in(services, taxside, index=2)  # the last 山西 unit is a 机关事业单位
    services.session.popups_shown = True
    declared_elsewhere(taxside, unit.unit_id)
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    page.click("text=年金缴款通知单打印")  # the 首页 common function
    page.wait_for_url("**/payment/annuity")
    assert "单位缴纳 8%" in page.inner_text("#annuity") and "个人缴纳 4%" in page.inner_text("#annuity")
    # 202502: nothing declared, so nobody owes: the page says why and nothing is printed.
    page.fill('#annuity-form input[name="period_from"]', "2025-02")
    page.fill('#annuity-form input[name="period_to"]', "2025-02")
    page.click("#annuity-preview")
    page.locator("#annuity-empty").wait_for()
    said = page.inner_text("#annuity-empty")
    assert "202502" in said and "机关事业单位" in said and "养老保险缴费基数" in said
    assert page.locator("#annuity-total").count() == 0
    screenshot(page, "annuity-nothing-to-notify")
    page.click("#annuity-print")
    page.locator(".toast", has_text="没有需要通知缴纳的职业年金").wait_for()
    assert page.locator("#annuity-result").is_hidden()
    folder = services.home / "certificates"
    assert not folder.exists() or not list(folder.iterdir())
    screenshot(page, "annuity-nothing-printed")
    page.fill('#annuity-form input[name="period_from"]', "2025-03")
    page.fill('#annuity-form input[name="period_to"]', "2025-03")
    page.click("#annuity-preview")
    page.locator("#annuity-total").wait_for()
    rows = page.locator(".annuity-period tbody tr").count()
    assert rows > 1  # persons and the period's total
    shown_total = page.inner_text("#annuity-total")
    page.click("#annuity-print")
    page.locator("#annuity-result .ok-text").wait_for()
    screenshot(page, "annuity-printed")
    pdf = services.home / "certificates" / str(page.get_attribute("#annuity-result", "data-pdf-name"))
    texts = [p.extract_text() for p in PdfReader(str(pdf)).pages]
    digest = page.inner_text("#annuity-result code")
    assert "职业年金缴款通知单" in texts[0] and "202503" in texts[0] and digest[:32] in texts[-1]
    total = shown_total.split("合计 ")[1].split(" 元")[0]
    assert total in texts[-1]
    pdf_png(pdf, len(texts), "annuity-pdf-last.png")
    # Back to 202502: the 202503 notice and its PDF do not stay beside the refused print.
    page.fill('#annuity-form input[name="period_from"]', "2025-02")
    page.fill('#annuity-form input[name="period_to"]', "2025-02")
    assert page.locator(".annuity-period").count() == 0 and page.locator("#annuity-result").is_hidden()
    page.evaluate("document.querySelectorAll('.toast').forEach((t) => { t.dataset.old = '1'; })")
    page.click("#annuity-print")
    page.locator(".toast.error:not([data-old])", has_text="没有需要通知缴纳的职业年金").wait_for()
    assert page.locator(".annuity-period").count() == 0 and page.locator("#annuity-total").count() == 0
    assert page.locator("#annuity-result").is_hidden()
    screenshot(page, "annuity-refused-no-stale-notice")
    assert problems.unexpected() == [], problems.items
    context.close()


def test_a_certificate_only_role_finds_employees(browser: Any, ui: Any, services: Any, live: Any) -> None:
    """A custom role with only 职工缴费证明-查看: 查找职工 works (it is the page's own endpoint)."""
    from client.core import operators
    from client.core.operators_roles import save_role

    (name_a, id_a), _ = two_employees(services)
    unit_id = live.unit(0).unit_id
    services.session.logout()
    operators.start_multi(services.store, "管理员甲", "admin", "Caozuo2025", "Caozuo2025")
    role = save_role(services.store, None, "缴费证明查看", ["certificate.view"])
    operators.add_operator(services.store, "证明乙", "cert", "Caozuo2025", "Caozuo2025", role.id, [unit_id])
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(ui.launch_url)  # the operator login page; the logins below are the window's, by request
    headers = {"X-CSRF-Token": ui.csrf_token}
    assert page.request.post(ui.base_url + "/api/operator/login", headers=headers,
                             data={"login_name": "cert", "password": "Caozuo2025"}).ok
    assert page.request.post(ui.base_url + "/api/session/login", headers=headers,
                             data={"unit_id": unit_id, "password": NEW_PASSWORD}).ok
    assert page.request.post(ui.base_url + "/api/session/confirm", headers=headers, data={"confirmed": True}).ok
    services.session.popups_shown = True
    problems = PageProblems(page)
    page.goto(ui.base_url + "/certificate")
    page.fill('#search input[name="q"]', name_a)
    page.click("#search button[type=submit]")
    page.locator(f'#found button[data-pick="{id_a}"]').click()
    assert name_a in page.inner_text("#chosen") and "找到" in page.inner_text("#search-state")
    assert page.locator(".toast.error").count() == 0
    screenshot(page, "certificate-only-role-search")
    assert problems.unexpected() == [], problems.items
    context.close()
