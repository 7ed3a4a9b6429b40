// 缴款记录 (manual 3.1.7.3): the payments that succeeded, by 费款所属期, with 导出 (enabled
// only when the query found rows: the file holds exactly what the table shows).

import { endpoints, get } from "../api.js";
import { count, dateTime, money } from "../format.js";
import { toast, toastError } from "../toast.js";
import { ListTable, downloadGet, monthParam, periodRange, syncOnEntry } from "./payment_common.js";

const box = document.getElementById("payment-records");
const form = document.getElementById("query");
const exportButton = document.getElementById("export");
let shownPeriod = "";

const table = new ListTable(document.getElementById("record-table"), {
  rowKey: "payment_id",
  pageSize: Number(box.dataset.pageSize) || 50,
  columns: [
    { key: "tax_ticket", label: "电子税票号码", className: "nowrap" },
    { key: "method", label: "缴款方式", className: "nowrap" },
    { key: "item_name", label: "征收项目", className: "nowrap" },
    { key: "part_name", label: "征收品目", className: "nowrap" },
    { key: "period", label: "费款所属期", className: "nowrap", render: (r) => periodRange(r.period_from, r.period_to) },
    { key: "amount", label: "应缴金额", className: "num", render: (r) => money(r.amount) },
    { key: "late_fee", label: "滞纳金", className: "num", render: (r) => money(r.late_fee) },
    { key: "total", label: "实缴金额", className: "num", render: (r) => money(r.total) },
    { key: "bank", label: "扣款银行", className: "nowrap", render: (r) => r.bank || "" },
    { key: "paid_at", label: "缴款时间", className: "nowrap", render: (r) => dateTime(r.paid_at) },
    { key: "arrival", label: "入库状态", className: "nowrap" },
  ],
});

async function reload() {
  let period;
  try {
    period = monthParam(new FormData(form).get("period"));
  } catch (err) {
    toastError(err);
    return;
  }
  try {
    const data = await get(`${endpoints.paymentRecords}${period ? `?period=${period}` : ""}`);
    shownPeriod = period;
    table.setItems(data.items);
    await table.load(1);
    exportButton.disabled = data.count === 0;
    document.getElementById("totals").textContent = data.count ? `共 ${count(data.count)} 条缴款记录，实缴合计 ${money(data.total)} 元` : "";
  } catch (err) {
    exportButton.disabled = true;
    table.error = err;
    table.render();
  }
}

exportButton.addEventListener("click", async () => {
  exportButton.disabled = true;
  try {
    const query = shownPeriod ? `?period=${shownPeriod}` : "";
    toast(`已导出：${await downloadGet(`${endpoints.paymentRecordsExport}${query}`)}`, "success");
  } catch (err) {
    toastError(err);
  } finally {
    exportButton.disabled = table.total === 0;
  }
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  reload();
});
form.addEventListener("reset", () => setTimeout(() => reload(), 0));

reload().then(() => syncOnEntry(endpoints.paymentRecordsSync, "payment_records_sync", {
  box: document.getElementById("sync-progress"), state: document.getElementById("sync-state"), after: reload,
}));
