"""Navigation and the page views (server-rendered Jinja)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue

from client import settings as settings_mod
from client.api import home as home_api
from client.api.context import services
from client.api.login import login_needed, requires_unit
from client.core import agency, audit, rulecache, system, units
from client.core.payment_views import HomeAlerts
from client.sync.payment import PaymentService
from rules.model import WAGE_BASE_FUNCTIONS

if TYPE_CHECKING:
    from client.services import Services

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: str
    path: str
    ready: bool
    # What the module will do, shown on its page while it is not built yet.
    summary: str = ""


NAV: tuple[NavEntry, ...] = (
    NavEntry("home", "首页", "/", True),
    NavEntry("agency", "单位总览", "/agency", True),
    NavEntry(
        "notices",
        "通知公告",
        "/notices",
        True,
        "查看税务机关发布的政策与通知公告，区分已读、未读；重要公告登录时自动弹出。",
    ),
    NavEntry(
        "enrollment",
        "职工参保信息",
        "/enrollment",
        True,
        "从税务端同步本单位职工参保信息（增量更新、全量更新），按人员三要素、缴费状态、"
        "单位编号查询，导出职工信息和更新数据。",
    ),
    NavEntry(
        "wage_base",
        "缴费工资申报",
        "/wage-base",
        True,
        "日常缴费工资申报与年度缴费工资申报：单个录入、导入 Excel、批量修改、提交申报，"
        "在申报记录中获取反馈。",
    ),
    NavEntry(
        "fee_declaration",
        "社保费申报",
        "/fee-declaration",
        True,
        "按税务端预处理汇总进行日常申报和特殊缴费申报（补缴、退休补收等），查看申报记录、作废。",
    ),
    NavEntry(
        "payment",
        "费款缴纳",
        "/payment",
        True,
        "查询欠费，通过三方协议缴款或打印银行端缴款凭证；查看缴款记录和凭证打印记录。",
    ),
    NavEntry(
        "certificate",
        "职工缴费证明",
        "/certificate",
        True,
        "查询某位职工在本单位一段时期内的缴费记录，打印或导出缴费证明。",
    ),
    NavEntry(
        "queries",
        "查询统计",
        "/queries",
        True,
        "单位参保信息、职工缴费基数、社保费申报明细、应缴信息、到账信息的查询与导出。",
    ),
    NavEntry("settings", "系统设置", "/settings", True),
    NavEntry("about", "关于", "/about", True),
)

_COMING = {e.path: e for e in NAV if not e.ready}
# Modules a 税务代征 unit does not have: bases come from the human-resources side.
HIDDEN_IN_AGENCY_MODE = frozenset({"wage_base"})


def visible_nav(svc: Services) -> tuple[NavEntry, ...]:
    # 单位总览 from the second unit on: with one unit its home page says it all.
    hidden = set() if agency.unit_count(svc.store) > 1 else {"agency"}
    unit = svc.session.view().unit
    registration = units.registration(unit.unit_id) if unit is not None else None
    if registration is not None and registration.collection_mode == "税务代征":
        hidden |= HIDDEN_IN_AGENCY_MODE
    return tuple(e for e in NAV if e.key not in hidden)


_BY_KEY = {e.key: e for e in NAV}
# Rule-pack home-function keys (docs/rules.md) -> the module page that serves them.
HOME_FUNCTION_PAGES = {
    "enrollment": "enrollment",
    "wage_base_daily": "wage_base",
    "wage_base_annual": "wage_base",
    "wage_base_records": "wage_base",
    "fee_daily": "fee_declaration",
    "fee_special": "fee_declaration",
    "fee_records": "fee_declaration",
    "payment": "payment",
    "annuity_notice": "payment",
    "certificate": "certificate",
    "queries": "queries",
    "notices": "notices",
}


# Functions that open a tab of their module rather than its first page.
HOME_FUNCTION_PATHS = {
    "wage_base_annual": "/wage-base/annual",
    "wage_base_records": "/wage-base/records",
    "fee_special": "/fee-declaration/special",
    "fee_records": "/fee-declaration/records",
    "annuity_notice": "/payment/annuity",
}


@dataclass(frozen=True)
class HomeLink:
    label: str
    path: str
    ready: bool


def home_links(region: str, collection_mode: str = "") -> tuple[list[HomeLink], str]:
    """The region's common functions (首页常用功能) and where the list comes from. A unit
    whose registration says 税务代征 has no payroll-base functions, whatever the pack lists."""
    found = rulecache.in_force(region)
    if found is None:
        return [HomeLink(e.label, e.path, e.ready) for e in NAV if e.key not in ("home", "agency", "settings", "about")], ""
    links = []
    for function in found.pack.home_functions:
        if collection_mode == "税务代征" and function.key in WAGE_BASE_FUNCTIONS:
            continue
        entry = _BY_KEY.get(HOME_FUNCTION_PAGES.get(function.key, ""))
        if entry is not None:
            path = HOME_FUNCTION_PATHS.get(function.key, entry.path) if entry.ready else entry.path
            links.append(HomeLink(function.label, path, entry.ready))
    return links, f"{found.pack.name}业务规则 {found.pack.version}"


def _deadline_words(days: int) -> str:
    return f"已逾期 {-days} 天" if days < 0 else ("今日到期" if days == 0 else f"还有 {days} 天")


def nearest_arrears(found: HomeAlerts) -> list[dict[str, object]]:
    """The arrears nearest their deadline (manual 3.1.2's prompt), each with how its deadline
    reads; shown under 本月待办's 欠费缴纳 line."""
    out = []
    for a in found.arrears:
        days = int(a["days_left"])
        out.append({**a, "total_text": f"{Decimal(a['total']):,.2f}", "overdue": days < 0, "when": _deadline_words(days)})
    return out


def login_prompts(found: HomeAlerts, wage_base_shown: bool) -> list[str]:
    """The 本月待办 lines the login prompt points at (manual 3.1.2): arrears outstanding and
    employees without a payroll base; none when there is nothing to do."""
    due = [("arrears", found.arrears_count > 0), ("wage_base", wage_base_shown and found.without_base > 0)]
    return [key for key, flagged in due if flagged]


@bp.get("/")
@requires_unit
def home() -> str:
    svc = services()
    unit = svc.session.require_entered()
    registration = units.registration(unit.unit_id)
    mode = registration.collection_mode if registration else ""
    links, source = home_links(unit.region, mode)
    found = PaymentService(svc.session).home_alerts()
    return render_template(
        "home.html", active="home", links=links, links_source=source, unit=unit, nearest=nearest_arrears(found),
        nearest_total=found.arrears_count, prompts=login_prompts(found, mode != "税务代征"),
        about=system.about(svc.store, svc.home, svc.log_path), status=home_api.current_status(),
    )


# -- 费款缴纳 (the JSON behind them is client/api/payment.py) ----------------------------------------
PAYMENT_TABS = {"pay": "payment.html", "vouchers": "payment_vouchers.html", "records": "payment_records.html"}


def _payment_page(tab: str) -> str:
    svc = services()
    svc.session.require_entered()
    return render_template(PAYMENT_TABS[tab], active="payment", tab=tab, page_size=svc.settings.get("page_size"),
                           today=svc.session.business_date().isoformat())


@bp.get("/payment")
@requires_unit
def payment_page() -> str:
    return _payment_page("pay")


@bp.get("/payment/vouchers")
@requires_unit
def payment_vouchers_page() -> str:
    return _payment_page("vouchers")


@bp.get("/payment/records")
@requires_unit
def payment_records_page() -> str:
    return _payment_page("records")


@bp.get("/settings")
def settings_page() -> str:
    svc = services()
    return render_template(
        "settings.html",
        active="settings",
        declared=settings_mod.SETTINGS,
        values=svc.settings.all(),
        actions=audit.actions(),
        audit_operators=audit.operator_names(),
        audit_units=units.list_units(),
        page_size=svc.settings.get("page_size"),
        team=svc.store.team,
    )


@bp.get("/about")
def about_page() -> str:
    svc = services()
    return render_template(
        "about.html", active="about", about=system.about(svc.store, svc.home, svc.log_path)
    )


@bp.get("/<path:path>")
def coming_soon(path: str) -> ResponseReturnValue:
    entry = _COMING.get("/" + path)
    if entry is None:
        abort(404)
    if (elsewhere := login_needed()) is not None:
        return elsewhere
    return render_template("coming_soon.html", active=entry.key, entry=entry)
