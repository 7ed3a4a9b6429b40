// 社保费应缴信息查询: 应缴 / 已缴 / 未缴 per 费款所属期 and 征收项目. Entry queries the last 12
// months from the tax side; 查询 with a range queries that range, then shows the local rows.

import { count, money } from "../format.js";
import {
  ListTable, bindExport, bindQuery, bindReset, loadList, monthParam, neverDownloaded, periodRange, queryString,
  syncFromTaxSide,
} from "./queries_common.js";

const form = document.getElementById("query");
const exportButton = document.getElementById("export");
const submitButton = form.querySelector('button[type="submit"]');
let shown = {};

const table = new ListTable(document.getElementById("result-table"), {
  rowKey: "key",
  pageSize: Number(document.getElementById("result-table").dataset.pageSize) || 50,
  emptyText: "没有符合条件的应缴信息",
  columns: [
    { key: "period", label: "费款所属期", className: "nowrap", render: (r) => periodRange(r.period_from, r.period_to) },
    { key: "unit_number", label: "单位编号", className: "nowrap" },
    { key: "item_name", label: "征收项目", className: "nowrap" },
    { key: "payable", label: "应缴金额", className: "num", render: (r) => money(r.payable) },
    { key: "paid", label: "已缴金额", className: "num", render: (r) => money(r.paid) },
    { key: "unpaid", label: "未缴金额", className: "num", render: (r) => money(r.unpaid) },
    { key: "state", label: "缴费状态", className: "nowrap" },
    { key: "deadline", label: "限缴日期", className: "nowrap", render: (r) => r.deadline || "" },
  ],
});

function filters() {
  const data = new FormData(form);
  return { from: monthParam(data.get("from")), to: monthParam(data.get("to")), item: data.get("item") || "" };
}

async function reload(values = shown) {
  shown = values;
  return loadList(table, exportButton, `/api/queries/payable${queryString(shown)}`, {
    keyOf: (r) => `${r.period_from}-${r.period_to}:${r.unit_number}:${r.item}`,
    never: neverDownloaded("应缴信息", "填写费款所属期后点击【查询】"),
    shown: (data) => {
      document.getElementById("totals").textContent = data.count
        ? `共 ${count(data.count)} 条：应缴合计 ${money(data.totals.payable)} 元，已缴 ${money(data.totals.paid)} 元，未缴 ${money(data.totals.unpaid)} 元` : "";
    },
  });
}

bindQuery(form, filters, (values) => syncFromTaxSide({ from: values.from, to: values.to }, () => reload(values), [submitButton]));
bindReset(form, () => reload({}));
bindExport(exportButton, () => `/api/queries/payable/export${queryString(shown)}`, table);

reload({}).then(() => syncFromTaxSide({}, () => reload(), [submitButton], { onEntry: true }));
