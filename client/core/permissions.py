"""The function tree, the built-in roles and the one table that maps requests to permissions.

A permission is ``<module>.<action>`` (``payment.pay``). A role is a set of them. The UI
server asks ``required_permission(path, method)`` before every view (client/api/operators.py);
a request the table does not know needs the administrator (``ADMIN_ONLY``), so a new
blueprint nobody mapped is closed rather than open, and tests/api/test_permissions.py names it.
"""

from __future__ import annotations

from dataclasses import dataclass

ADMIN_ONLY = "__admin__"
PUBLIC = ""  # any logged-in operator (the login itself, jobs, the home page)

ACTION_LABELS = {
    "view": "查看",
    "edit": "编辑",
    "submit": "提交申报",
    "pay": "缴款",
    "void": "作废",
    "batch": "批量操作",
    "backup": "备份",
    "restore": "恢复",
    "settings": "修改设置",
    "operators": "操作员与角色",
}


@dataclass(frozen=True)
class Module:
    key: str
    label: str
    actions: tuple[str, ...]


# The function tree the role editor shows: each page (module) and what can be done there.
TREE: tuple[Module, ...] = (
    Module("notices", "通知公告", ("view",)),
    Module("enrollment", "职工参保信息", ("view", "edit")),
    Module("wage_base", "缴费工资申报", ("view", "edit", "submit")),
    Module("fee_declaration", "社保费申报", ("view", "edit", "submit", "void")),
    Module("payment", "费款缴纳", ("view", "edit", "pay", "void")),
    Module("certificate", "职工缴费证明", ("view",)),
    Module("queries", "查询统计", ("view",)),
    Module("agency", "多单位总览", ("view", "batch")),
    Module("units", "单位信息", ("view", "edit")),
    Module("system", "系统设置", ("view", "settings", "backup", "restore", "operators")),
)
ALL_PERMISSIONS: frozenset[str] = frozenset(f"{m.key}.{a}" for m in TREE for a in m.actions)
_VIEWS = frozenset(p for p in ALL_PERMISSIONS if p.endswith(".view"))


def label(permission: str) -> str:
    """``payment.pay`` -> 费款缴纳-缴款 (the <function> of the refusal message)."""
    if permission == ADMIN_ONLY:
        return "仅限管理员的功能"
    module, _, action = permission.partition(".")
    names = {m.key: m.label for m in TREE}
    return f"{names.get(module, module)}-{ACTION_LABELS.get(action, action)}"


@dataclass(frozen=True)
class BuiltinRole:
    key: str
    name: str
    permissions: frozenset[str]
    description: str


ADMIN, HR, FINANCE, READONLY = "admin", "hr", "finance", "readonly"
BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    BuiltinRole(ADMIN, "管理员", ALL_PERMISSIONS, "全部功能，管理操作员与角色"),
    BuiltinRole(
        HR, "人事专员",
        frozenset({"notices.view", "enrollment.view", "enrollment.edit", "wage_base.view", "wage_base.edit",
                   "wage_base.submit", "units.view", "agency.view", "system.view"}),
        "职工参保信息、缴费工资申报",
    ),
    BuiltinRole(
        FINANCE, "财务",
        frozenset({"notices.view", "enrollment.view", "wage_base.view", "fee_declaration.view",
                   "fee_declaration.edit", "fee_declaration.submit", "fee_declaration.void", "payment.view",
                   "payment.edit", "payment.pay", "payment.void", "certificate.view", "queries.view",
                   "agency.view", "agency.batch", "units.view", "system.view"}),
        "社保费申报、费款缴纳、缴费证明、查询统计",
    ),
    BuiltinRole(READONLY, "只读", _VIEWS, "查看全部，不能修改"),
)
BUILTIN_BY_KEY = {r.key: r for r in BUILTIN_ROLES}


@dataclass(frozen=True)
class Rule:
    """Requests under ``prefix`` (``*`` is any one path segment): what reading (GET) and what
    writing (POST, PUT, DELETE) needs. The rule with the most segments wins."""

    prefix: str
    read: str
    write: str


R = Rule
RULES: tuple[Rule, ...] = (
    # Open to any operator: the shell, the unit login wizard, jobs, the operator's own login.
    R("/static", PUBLIC, PUBLIC),
    R("/about", PUBLIC, PUBLIC),
    R("/api/system/about", PUBLIC, PUBLIC),
    R("/login", PUBLIC, PUBLIC),
    R("/lock", PUBLIC, PUBLIC),
    R("/api/lock", PUBLIC, PUBLIC),
    R("/api/session", PUBLIC, PUBLIC),
    R("/api/jobs", PUBLIC, PUBLIC),
    R("/operator-login", PUBLIC, PUBLIC),
    R("/operator-password", PUBLIC, PUBLIC),
    R("/api/operator", PUBLIC, PUBLIC),
    R("/api/home", PUBLIC, PUBLIC),
    R("/api/units", PUBLIC, "units.edit"),
    # The login's important-notice pop-ups come to every operator, whatever the role.
    R("/api/notices/popups", PUBLIC, PUBLIC),
    R("/api/notices/*/read", PUBLIC, PUBLIC),
    # The modules.
    R("/notices", "notices.view", "notices.view"),
    R("/api/notices", "notices.view", "notices.view"),
    R("/enrollment", "enrollment.view", "enrollment.edit"),
    R("/api/enrollment", "enrollment.view", "enrollment.edit"),
    R("/api/enrollment/export", "enrollment.view", "enrollment.view"),
    R("/api/enrollment/changes/export", "enrollment.view", "enrollment.view"),
    R("/wage-base", "wage_base.view", "wage_base.edit"),
    R("/api/wage-base", "wage_base.view", "wage_base.edit"),
    R("/api/wage-base/*/submit", "wage_base.view", "wage_base.submit"),
    R("/api/wage-base/*/export", "wage_base.view", "wage_base.view"),
    R("/api/wage-base/*/template", "wage_base.view", "wage_base.view"),
    R("/api/wage-base/*/import-report", "wage_base.view", "wage_base.view"),
    R("/api/wage-base/records/send", "wage_base.view", "wage_base.submit"),
    R("/api/wage-base/records/feedback", "wage_base.view", "wage_base.view"),
    R("/fee-declaration", "fee_declaration.view", "fee_declaration.edit"),
    R("/api/fee-declaration", "fee_declaration.view", "fee_declaration.edit"),
    R("/api/fee-declaration/check", "fee_declaration.view", "fee_declaration.view"),
    # Asking the tax side for the current figures is looking, not changing (pages do it on entry).
    R("/api/fee-declaration/*/refresh", "fee_declaration.view", "fee_declaration.view"),
    R("/api/fee-declaration/records/sync", "fee_declaration.view", "fee_declaration.view"),
    # 获取反馈 only learns what the tax side already decided (the records page asks on entry).
    R("/api/fee-declaration/records/feedback", "fee_declaration.view", "fee_declaration.view"),
    R("/api/fee-declaration/submit", "fee_declaration.view", "fee_declaration.submit"),
    R("/api/fee-declaration/records/send", "fee_declaration.view", "fee_declaration.submit"),
    R("/api/fee-declaration/records/*/void", "fee_declaration.view", "fee_declaration.void"),
    R("/payment", "payment.view", "payment.edit"),
    R("/api/payment", "payment.view", "payment.edit"),
    R("/api/payment/arrears/selection", "payment.view", "payment.view"),
    R("/api/payment/arrears/refresh", "payment.view", "payment.view"),
    R("/api/payment/records/sync", "payment.view", "payment.view"),
    R("/api/payment/debits", "payment.view", "payment.pay"),
    R("/api/payment/vouchers", "payment.view", "payment.pay"),
    R("/api/payment/vouchers/sync", "payment.view", "payment.view"),
    R("/api/payment/vouchers/*/void", "payment.view", "payment.void"),
    # 年金缴款通知单 computes and prints figures, changes nothing (as 职工缴费证明's print).
    R("/api/payment/annuity", "payment.view", "payment.view"),
    R("/certificate", "certificate.view", "certificate.view"),
    R("/api/certificate", "certificate.view", "certificate.view"),
    R("/queries", "queries.view", "queries.view"),
    R("/api/queries", "queries.view", "queries.view"),
    R("/agency", "agency.view", "agency.batch"),
    R("/api/agency", "agency.view", "agency.batch"),
    R("/settings/unit", "units.view", "units.edit"),
    R("/settings/rules", "units.view", "units.edit"),
    R("/settings/declaration-password", "units.view", "units.edit"),
    R("/api/unit", "units.view", "units.edit"),
    R("/api/rules", "units.view", "units.edit"),
    # 系统设置.
    R("/settings", "system.view", "system.settings"),
    R("/settings/login-password", "system.settings", "system.settings"),
    R("/api/local-password", "system.settings", "system.settings"),
    R("/api/system", "system.view", "system.settings"),
    R("/api/system/audit", "system.view", "system.view"),
    R("/api/system/check", "system.view", "system.view"),
    R("/api/network", "system.view", "system.settings"),
    R("/api/upgrade", PUBLIC, "system.settings"),  # 关于 (open to all) shows the upgrade state
    R("/api/backup", "system.backup", "system.backup"),
    R("/api/backup/upload", "system.restore", "system.restore"),
    R("/api/backup/restore", "system.restore", "system.restore"),
    R("/handover", "system.backup", "system.backup"),
    R("/api/handover", "system.backup", "system.backup"),
    R("/settings/operators", "system.operators", "system.operators"),
    R("/api/operators", "system.operators", "system.operators"),
)
# The home page is "/" exactly (every other path starts with "/" too).
EXACT = {"/": PUBLIC}
# The catch-all of modules still to come answers 404 for any path it does not know; the
# paths it does know (/certificate, /queries) have rules above.
FALLBACK_ENDPOINTS = {"pages.coming_soon": PUBLIC}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _matches(prefix: list[str], path: list[str]) -> bool:
    return len(path) >= len(prefix) and all(p in ("*", s) for p, s in zip(prefix, path, strict=False))


_PARSED = sorted(((_segments(r.prefix), r) for r in RULES), key=lambda pr: -len(pr[0]))


def find_rule(path: str) -> Rule | None:
    segments = _segments(path)
    for prefix, rule in _PARSED:
        if _matches(prefix, segments):
            return rule
    return None


def required_permission(path: str, method: str, endpoint: str | None = None) -> str:
    """What a request needs: a permission, ``PUBLIC`` or ``ADMIN_ONLY`` (no table entry)."""
    if path in EXACT:
        return EXACT[path]
    rule = find_rule(path)
    if rule is None:
        return FALLBACK_ENDPOINTS.get(endpoint or "", ADMIN_ONLY)
    return rule.read if method.upper() in READ_METHODS else rule.write


def allowed(permissions: frozenset[str], is_admin: bool, needed: str) -> bool:
    if is_admin or needed == PUBLIC:
        return True
    if needed == ADMIN_ONLY:
        return False
    return needed in permissions


def clean(chosen: object) -> frozenset[str]:
    """The ticked boxes of the role editor, keeping only known permissions; a module's
    actions imply viewing it (an edit box without the view box would open nothing)."""
    if not isinstance(chosen, list):
        return frozenset()
    picked = {p for p in chosen if isinstance(p, str) and p in ALL_PERMISSIONS}
    picked |= {p.split(".")[0] + ".view" for p in picked}
    return frozenset(picked & ALL_PERMISSIONS)


def tree_json() -> list[dict[str, object]]:
    return [
        {"key": m.key, "label": m.label,
         "actions": [{"permission": f"{m.key}.{a}", "label": ACTION_LABELS[a]} for a in m.actions]}
        for m in TREE
    ]


NAV_PERMISSIONS = {"settings": "system.view", "home": PUBLIC, "about": PUBLIC}


def nav_permission(key: str) -> str:
    """The permission a navigation entry needs to be shown (its module's view)."""
    return NAV_PERMISSIONS.get(key, f"{key}.view")
