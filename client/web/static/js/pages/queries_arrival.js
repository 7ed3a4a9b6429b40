// 社保费到账信息查询: each payment's arrival (已缴款未入库 / 已入库) with its dates, checked
// against this PC's 缴款记录: a payment the tax side does not show, or whose amount differs,
// is flagged in red and counted in the summary line.

import { dateTime, money } from "../format.js";
import { dateParam } from "./payment_common.js";
import {
  ListTable, bindExport, bindQuery, bindReset, loadList, monthParam, neverDownloaded, periodRange, queryString,
  syncFromTaxSide,
} from "./queries_common.js";

const minute = (value) => dateTime(value).slice(0, 16); // seconds make the row too wide

const form = document.getElementById("query");
const exportButton = document.getElementById("export");
const submitButton = form.querySelector('button[type="submit"]');
const totals = document.getElementById("totals");
let shown = {};

// The short verdict in the row (the full wording as its title and in the summary line).
function checkCell(row) {
  const span = document.createElement("span");
  span.textContent = row.check;
  span.title = row.check_text;
  span.dataset.check = row.check;
  if (row.flagged) span.className = "error-text";
  else if (row.check !== "一致") span.className = "warn-text";
  return span;
}

function arrivalCell(row) {
  const cell = document.createElement("span");
  cell.textContent = row.arrival || "—";
  if (row.stored_at) {
    const when = document.createElement("span");
    when.className = "sub-line muted";
    when.textContent = minute(row.stored_at);
    cell.append(when);
  }
  return cell;
}

// 缴款日期 (the tax side's business date) with the time it recorded the payment under it.
function paidCell(row) {
  const cell = document.createElement("span");
  cell.textContent = row.paid_on;
  const when = document.createElement("span");
  when.className = "sub-line muted";
  when.textContent = minute(row.paid_at);
  when.title = "缴款时间";
  cell.append(when);
  return cell;
}

const amount = (value) => (value == null ? "—" : money(value));

const table = new ListTable(document.getElementById("result-table"), {
  rowKey: "payment_id",
  pageSize: Number(document.getElementById("result-table").dataset.pageSize) || 50,
  emptyText: "没有符合条件的到账信息",
  columns: [
    { key: "tax_ticket", label: "电子税票号码", className: "nowrap" },
    { key: "item_name", label: "征收项目", className: "nowrap" },
    { key: "part_name", label: "征收品目", className: "nowrap" },
    { key: "period", label: "费款所属期", className: "nowrap", render: (r) => periodRange(r.period_from, r.period_to) },
    { key: "total", label: "税务端实缴金额", className: "num", render: (r) => amount(r.total) },
    { key: "local_total", label: "本机记录金额", className: "num", render: (r) => amount(r.local_total) },
    { key: "check", label: "核对结果", className: "nowrap", render: checkCell },
    { key: "paid_on", label: "缴款日期", className: "nowrap", render: paidCell },
    { key: "arrival", label: "到账状态", className: "nowrap", render: arrivalCell },
  ],
});

function filters() {
  const data = new FormData(form);
  const values = {
    from: monthParam(data.get("from")), to: monthParam(data.get("to")),
    paid_from: dateParam(data.get("paid_from"), "缴款日期"), paid_to: dateParam(data.get("paid_to"), "缴款日期"),
  };
  if (values.paid_from && values.paid_to && values.paid_from > values.paid_to) throw new Error("缴款日期起不能晚于止");
  return values;
}

async function reload(values = shown) {
  shown = values;
  return loadList(table, exportButton, `/api/queries/arrival${queryString(shown)}`, {
    never: neverDownloaded("到账信息", "填写费款所属期或缴款日期后点击【查询】"),
    shown: (data) => {
      totals.textContent = data.count ? data.summary : "";
      totals.classList.toggle("error-text", data.flagged > 0);
    },
  });
}

bindQuery(form, filters, (values) => syncFromTaxSide(values, () => reload(values), [submitButton]));
bindReset(form, () => reload({}));
bindExport(exportButton, () => `/api/queries/arrival/export${queryString(shown)}`, table);

reload({}).then(() => syncFromTaxSide({}, () => reload(), [submitButton], { onEntry: true }));
