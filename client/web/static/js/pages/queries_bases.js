// 职工缴费基数查询 (manual 3.1.8.2): synced from the tax side on entry (a paged feed, with
// progress: a large unit has 100,000 employees); the person elements come from this PC's
// 职工参保信息 and stay empty for employees not downloaded; 查询 by them; 导出.

import { count, money } from "../format.js";
import { DataTable } from "../table.js";
import { bindExport, bindReset, neverDownloaded, queryString, showState, syncFromTaxSide } from "./queries_common.js";

const form = document.getElementById("query");
const exportButton = document.getElementById("export");
const fullButton = document.getElementById("full-refresh");
const box = document.getElementById("result-table");
let lastState = null;

const table = new DataTable(box, {
  endpoint: "/api/queries/bases",
  rowKey: "key",
  pageSize: Number(box.dataset.pageSize) || 50,
  columns: [
    { key: "name", label: "姓名", className: "nowrap" },
    { key: "id_type_name", label: "证件类型", className: "nowrap" },
    { key: "id_number", label: "证件号码", className: "nowrap" },
    { key: "unit_number", label: "单位编号", className: "nowrap" },
    { key: "item_name", label: "征收项目", className: "nowrap" },
    { key: "base", label: "缴费基数", className: "num nowrap", render: (r) => money(r.base) },
    { key: "status", label: "缴费状态", className: "nowrap" },
  ],
  params: () => Object.fromEntries(new FormData(form).entries()),
  onLoad: (data) => {
    lastState = data.state;
    exportButton.disabled = data.total === 0;
    const missing = data.without_person
      ? `；${data.without_person} 名职工尚未下载职工参保信息，姓名和证件信息显示为空` : "";
    document.getElementById("totals").textContent = data.total ? `共 ${count(data.total)} 条缴费基数${missing}` : "";
  },
});

async function reload() {
  await table.search();
  if (!table.error && table.total === 0 && lastState && !lastState.synced_at) {
    table.status.textContent = neverDownloaded("职工缴费基数", "点击【全部重新下载】");
  }
  return lastState;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  reload().then((state) => showState(state));
});
bindReset(form, reload);
bindExport(exportButton, () => `/api/queries/bases/export${queryString(table.filter)}`, table);

// On entry only what changed since the last update comes; 全部重新下载 reads every base again.
fullButton.addEventListener("click", () => syncFromTaxSide({ full: true }, reload, [fullButton]));

reload().then(() => syncFromTaxSide({}, reload, [fullButton], { onEntry: true }));
