"""The names the operator sees for the client's tables (data check, restore preview).

Table names such as audit_log are never shown on screen; a table missing here is shown
as 其他数据 with its name in brackets, and a test keeps this list complete.
"""

from __future__ import annotations

TABLE_LABELS = {
    "unit": "单位",
    "enrollment_employee": "职工参保信息",
    "enrollment_change": "参保信息变更记录",
    "feed_cursor": "同步进度",
    "audit_log": "操作日志",
    "notice": "通知公告",
    "rule_pack_cache": "规则包缓存",
    "local_credential": "本机密码",
    "refresh_state": "刷新状态",
    "wage_base_draft": "缴费工资申报草稿",
    "submission": "申报记录（提交日志）",
    "fee_summary": "社保费预处理汇总",
    "fee_summary_detail": "社保费汇总明细",
    "fee_record": "社保费申报记录",
    "payment_arrear": "欠费信息",
    "payment_arrear_fetch": "欠费信息刷新记录",
    "payment_agreement": "三方协议",
    "payment_debit": "三方协议扣款",
    "payment_debit_result": "三方协议扣款结果",
    "payment_voucher": "缴款凭证打印记录",
    "payment_record": "缴款记录",
    "certificate_record": "缴费证明打印记录",
    "operator": "操作员",
    "operator_config": "使用方式（单人/多人）",
    "operator_role": "角色",
    "operator_unit": "操作员可操作的单位",
    "query_registration": "单位参保信息（查询）",
    "query_base": "职工缴费基数（查询）",
    "query_payable": "社保费应缴信息（查询）",
    "query_arrival": "社保费到账信息（查询）",
    "query_state": "查询更新状态",
    "query_detail": "社保费申报明细（查询）",
    "query_detail_summary": "申报明细所属汇总",
    "query_detail_sync": "申报明细下载进度",
    "query_detail_total": "申报明细合计",
    "desk_activity": "其他电脑正在进行的更新",
    "team_state": "团队共用状态",
}


def table_label(name: str) -> str:
    return TABLE_LABELS.get(name, f"其他数据（{name}）")
