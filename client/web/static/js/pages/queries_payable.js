// 社保费应缴信息查询: 应缴 / 已缴 / 未缴 per 费款所属期 and 征收项目. Entry queries the last 12
// months from the tax side; 查询 with a range queries that range, then shows the local rows.

import { get } from "../api.js";
import { count, money } from "../format.js";
import { toast, toastError } from "../toast.js";
import { ListTable, downloadGet, monthParam, periodRange, queryString, showState, syncFromTaxSide } from "./queries_common.js";

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
  try {
    const data = await get(`/api/queries/payable${queryString(shown)}`);
    table.setItems(data.items.map((r) => ({ ...r, key: `${r.period_from}-${r.period_to}:${r.unit_number}:${r.item}` })));
    await table.load(1);
    exportButton.disabled = data.count === 0;
    document.getElementById("totals").textContent = data.count
      ? `共 ${count(data.count)} 条：应缴合计 ${money(data.totals.payable)} 元，已缴 ${money(data.totals.paid)} 元，未缴 ${money(data.totals.unpaid)} 元` : "";
    return data.state;
  } catch (err) {
    exportButton.disabled = true;
    table.error = err;
    table.render();
    return null;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  let values;
  try {
    values = filters();
  } catch (err) {
    toastError(err);
    return;
  }
  syncFromTaxSide({ from: values.from, to: values.to }, () => reload(values), [submitButton]);
});
form.addEventListener("reset", () => setTimeout(() => reload({}).then((state) => showState(state)), 0));
exportButton.addEventListener("click", async () => {
  exportButton.disabled = true;
  try {
    toast(`已导出：${await downloadGet(`/api/queries/payable/export${queryString(shown)}`)}`, "success");
  } catch (err) {
    toastError(err);
  } finally {
    exportButton.disabled = table.total === 0;
  }
});

reload({}).then(() => syncFromTaxSide({}, () => reload(), [submitButton], { onEntry: true }));
