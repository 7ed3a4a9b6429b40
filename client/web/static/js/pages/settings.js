import { download, endpoints, post } from "../api.js";
import { confirm } from "../dialog.js";
import { JobProgress } from "../job.js";
import { DataTable } from "../table.js";
import { toast, toastError } from "../toast.js";

// 常规设置: save, showing each field's error next to it.
const form = document.getElementById("settings-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  const values = Object.fromEntries(new FormData(form).entries());
  try {
    await post(endpoints.settings, values);
    toast("设置已保存", "success");
    auditTable.search();
  } catch (err) {
    const slot = err.field && form.querySelector(`[data-error-for="${err.field}"]`);
    if (slot) slot.textContent = err.message;
    toastError(err);
  }
});

document.getElementById("settings-reset").addEventListener("click", async () => {
  if (!(await confirm("所有设置将恢复为默认值（不影响业务数据）。确定吗？", { ok: "恢复默认" }))) return;
  try {
    const { settings } = await post(endpoints.settingsReset, {});
    for (const [name, value] of Object.entries(settings)) {
      const input = form.querySelector(`[name="${name}"]`);
      if (input) input.value = value;
    }
    toast("已恢复默认设置", "success");
    auditTable.search();
  } catch (err) {
    toastError(err);
  }
});

// 本地数据检查: a background job with a progress bar that survives a reload.
const checkButton = document.getElementById("check-start");
const checkResult = document.getElementById("check-result");
const progress = new JobProgress(document.getElementById("check-progress"), {
  onDone: (job) => {
    checkButton.disabled = false;
    showCheckResult(job.result);
    auditTable.search();
  },
  onError: (err) => {
    checkButton.disabled = false;
    toastError(err);
  },
});

function showCheckResult(result) {
  const verdict = document.createElement("p");
  verdict.className = result.ok ? "ok-text" : "error-text";
  verdict.textContent = result.ok
    ? (result.team ? "检查通过：团队数据库中的数据完整。" : "检查通过：本地数据完整。")
    : `发现问题：完整性 ${result.integrity}，数据关联问题 ${result.foreign_key_problems} 处。请从备份恢复。`;
  const table = document.createElement("table");
  table.className = "simple";
  table.innerHTML = "<thead><tr><th>数据表</th><th>行数</th></tr></thead>";
  const body = document.createElement("tbody");
  for (const t of result.tables) {
    const tr = document.createElement("tr");
    for (const v of [t.table, t.rows]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  checkResult.replaceChildren(verdict, table);
}

checkButton.addEventListener("click", async () => {
  checkButton.disabled = true;
  checkResult.replaceChildren();
  try {
    const { job } = await post(endpoints.dataCheck, {});
    progress.attach(job);
  } catch (err) {
    checkButton.disabled = false;
    toastError(err);
  }
});
progress.reattach("data_check").then((job) => {
  if (job) checkButton.disabled = true;
});

// 操作日志: paged, sortable, filterable (operator, action, unit, dates), selectable; export the
// selected rows or everything the filters find.
function auditFilters() {
  const value = (id) => document.getElementById(id)?.value.trim() ?? "";
  return { operator: value("audit-operator"), action: value("audit-action"), unit: value("audit-unit"),
    date_from: value("audit-from"), date_to: value("audit-to"), q: value("audit-q") };
}
const exportButton = document.getElementById("audit-export");
const tableBox = document.getElementById("audit-table");
const auditTable = new DataTable(tableBox, {
  endpoint: endpoints.audit,
  pageSize: Number(tableBox.dataset.pageSize) || 50,
  selectable: true,
  columns: [
    { key: "at", label: "时间", sortable: true },
    { key: "operator", label: "操作员", sortable: true },
    { key: "action", label: "操作", sortable: true },
    { key: "detail", label: "内容" },
    { key: "unit", label: "单位" },
  ],
  params: auditFilters,
  onSelect: (keys) => {
    exportButton.disabled = keys.length === 0;
  },
});
document.getElementById("audit-search").addEventListener("click", () => auditTable.search());
for (const id of ["audit-operator", "audit-action", "audit-unit", "audit-from", "audit-to"]) {
  document.getElementById(id)?.addEventListener("change", () => auditTable.search());
}
document.getElementById("audit-export-all")?.addEventListener("click", async () => {
  try {
    const name = await download(endpoints.auditExport, { filters: auditFilters() });
    toast(`已导出 ${name}`, "success");
  } catch (err) {
    toastError(err);
  }
});
exportButton.addEventListener("click", async () => {
  try {
    const name = await download(endpoints.auditExport, { ids: auditTable.selectedKeys() });
    toast(`已导出 ${name}`, "success");
  } catch (err) {
    toastError(err);
  }
});
auditTable.load();
