import { download, endpoints, get, post } from "../api.js";
import { openDialog } from "../dialog.js";
import { JobProgress } from "../job.js";
import { DataTable } from "../table.js";
import { ITEM_LABELS, dateTime, money } from "../format.js";
import { toast, toastError } from "../toast.js";

const form = document.getElementById("query");
const tableBox = document.getElementById("employees");
const exportSelected = document.getElementById("export-selected");
const syncButtons = [document.getElementById("sync-incremental"), document.getElementById("sync-full")];

function showCounts(counts) {
  for (const [key, value] of Object.entries(counts)) {
    const cell = document.querySelector(`[data-count="${key}"]`);
    if (cell) cell.textContent = value;
  }
}

function nameLink(row) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link-button";
  button.dataset.perm = "enrollment.view";
  button.textContent = row.name;
  button.addEventListener("click", () => showDetail(row.employee_id));
  return button;
}

const table = new DataTable(tableBox, {
  endpoint: endpoints.enrollment,
  rowKey: "employee_id",
  selectable: true,
  pageSize: Number(tableBox.dataset.pageSize) || 50,
  columns: [
    { key: "name", label: "姓名", sortable: true, render: nameLink },
    { key: "id_type", label: "证件类型" },
    { key: "id_number", label: "证件号码", sortable: true },
    { key: "gender", label: "性别" },
    { key: "unit_number", label: "单位编号", sortable: true },
    { key: "status", label: "缴费状态", sortable: true },
    { key: "base", label: "养老缴费基数", className: "num nowrap", render: (r) => money(r.base) },
  ],
  params: () => Object.fromEntries(new FormData(form).entries()),
  onSelect: (keys) => {
    exportSelected.disabled = keys.length === 0;
  },
  onLoad: (data) => showCounts(data.counts),
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  table.search();
});
form.addEventListener("reset", () => setTimeout(() => table.search(), 0));

// 更新: in the background; the page (and a reload) re-attach to a running update.
const progressBox = document.getElementById("sync-progress");
const progress = new JobProgress(progressBox, {
  cancellable: false,
  onDone: (job) => {
    progressBox.hidden = true;
    syncButtons.forEach((b) => (b.disabled = false));
    toast(job.result.message, "success");
    table.load(1);
  },
  onError: (err) => {
    progressBox.hidden = true;
    syncButtons.forEach((b) => (b.disabled = false));
    toastError(err);
  },
});

async function startSync(mode) {
  syncButtons.forEach((b) => (b.disabled = true));
  try {
    const { job } = await post(endpoints.enrollmentSync, { mode });
    progress.attach(job);
  } catch (err) {
    syncButtons.forEach((b) => (b.disabled = false));
    toastError(err);
  }
}
syncButtons[0].addEventListener("click", () => startSync("incremental"));
syncButtons[1].addEventListener("click", () => startSync("full"));
progress.reattach("enrollment_sync").then((job) => {
  if (job) syncButtons.forEach((b) => (b.disabled = true));
});

// 导出: the selected or all employees, ID numbers as text.
async function exportEmployees(ids) {
  try {
    const name = await download(endpoints.enrollmentExport, ids ? { ids } : {});
    toast(`已导出 ${name}`, "success");
  } catch (err) {
    toastError(err);
  }
}
exportSelected.addEventListener("click", () => exportEmployees(table.selectedKeys()));
document.getElementById("export-all").addEventListener("click", () => exportEmployees(null));

// 详情: every field, the insured items and the base history.
async function showDetail(employeeId) {
  let e;
  try {
    e = (await get(endpoints.enrollmentEmployee(employeeId))).employee;
  } catch (err) {
    toastError(err);
    return;
  }
  const body = document.createElement("div");
  const facts = document.createElement("dl");
  facts.className = "detail-grid";
  const bases = Object.entries(e.bases).map(([k, v]) => `${ITEM_LABELS[k] || k} ${money(v)}`).join("，");
  for (const [label, value] of [
    ["姓名", e.name], ["证件类型", e.id_type_name], ["证件号码", e.id_number], ["性别", e.gender],
    ["出生日期", e.birth_date], ["单位编号", e.unit_number], ["参保险种", e.items.map((k) => ITEM_LABELS[k] || k).join("、")],
    ["缴费状态", e.status], ["缴费基数", bases], ["税务端更新时间", dateTime(e.taxside_updated_at)],
    ["本机同步时间", dateTime(e.synced_at)],
  ]) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    facts.append(dt, dd);
  }
  const history = document.createElement("table");
  history.className = "simple";
  history.innerHTML = "<thead><tr><th>更新时间</th><th>类型</th><th>内容</th></tr></thead>";
  const rows = document.createElement("tbody");
  for (const h of e.history) {
    const tr = document.createElement("tr");
    for (const v of [h.changed_at, h.kind, h.text || "—"]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    rows.append(tr);
  }
  history.append(rows);
  const heading = document.createElement("h3");
  heading.textContent = e.history.length ? "更新记录（含缴费基数变化）" : "首次下载以来没有更新记录";
  body.append(facts, heading, ...(e.history.length ? [history] : []));
  openDialog({ title: `职工参保信息：${e.name}`, body });
}

// 更新数据导出: the change log, searchable by person elements and update time, exportable.
document.getElementById("changes-open").addEventListener("click", () => {
  const body = document.createElement("div");
  body.className = "changes-dialog";
  body.innerHTML = `<form class="toolbar" id="changes-query">
      <input name="name" type="search" placeholder="姓名" aria-label="更新数据姓名">
      <input name="id_number" type="search" placeholder="证件号码" aria-label="更新数据证件号码">
      <input name="since" type="text" class="date-input" placeholder="从 2025-01-01" pattern="\\d{4}-\\d{2}-\\d{2}" aria-label="更新时间从">
      <input name="until" type="text" class="date-input" placeholder="至 2025-12-31" pattern="\\d{4}-\\d{2}-\\d{2}" aria-label="更新时间到">
      <button class="btn" type="submit">查询</button>
      <button class="btn" type="button" id="changes-export">导出</button>
    </form><div id="changes-table"></div>`;
  const query = body.querySelector("#changes-query");
  const changes = new DataTable(body.querySelector("#changes-table"), {
    endpoint: endpoints.enrollmentChanges,
    pageSize: 20,
    columns: [
      { key: "changed_at", label: "更新时间" },
      { key: "name", label: "姓名" },
      { key: "id_number", label: "证件号码" },
      { key: "kind", label: "类型" },
      { key: "detail", label: "更新内容" },
    ],
    params: () => Object.fromEntries(new FormData(query).entries()),
  });
  query.addEventListener("submit", (event) => {
    event.preventDefault();
    changes.search();
  });
  body.querySelector("#changes-export").addEventListener("click", async () => {
    try {
      const name = await download(endpoints.enrollmentChangesExport, Object.fromEntries(new FormData(query).entries()));
      toast(`已导出 ${name}`, "success");
    } catch (err) {
      toastError(err);
    }
  });
  changes.load();
  openDialog({ title: "更新数据", body });
});

table.load();
