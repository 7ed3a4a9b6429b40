// 单位总览: every unit's state (sortable, filtered, paged on the server), batch actions over
// the ticked units with one line per unit, and switching to a unit by its name.

import { endpoints, get, post } from "../api.js";
import { confirm, el, formDialog } from "../dialog.js";
import { dateTime, money } from "../format.js";
import { DataTable } from "../table.js";
import { toast, toastError } from "../toast.js";

const form = document.getElementById("agency-query");
const box = document.getElementById("agency-units");
const keyring = { available: box.dataset.keyring === "1", reason: box.dataset.keyringReason };
const batchButtons = [...document.querySelectorAll("[data-batch]")];
const seen = new Map(); // unit_id -> the last row shown for it (names and saved passwords for the dialog)
const POLL_MS = [20, 50, 100, 200, 400];
let running = false; // a batch runs: its buttons wait

function count(value) {
  return value ? String(value) : "—";
}

function ageText(row) {
  if (!row.enrollment_at) return el("span", { className: "warn-text", textContent: "从未更新" });
  const days = row.enrollment_days;
  const when = days <= 0 ? "今天" : `${days} 天前`;
  return el("span", { className: days > 30 || !row.enrollment_complete ? "warn-text" : "" },
    dateTime(row.enrollment_at).slice(0, 16),
    el("span", { className: "unit-sub-line", textContent: `${when}${row.enrollment_complete ? "" : "，未完成"}` }));
}

function deadlineText(row) {
  if (!row.nearest_deadline) return "—";
  const days = row.deadline_days;
  const words = days < 0 ? `已逾期 ${-days} 天` : days === 0 ? "今日到期" : `还有 ${days} 天`;
  return el("span", { className: days < 0 ? "error-text" : days <= 5 ? "warn-text" : "" },
    row.nearest_deadline, el("span", { className: "unit-sub-line", textContent: words }));
}

function unitCell(row) {
  const name = el("button", { type: "button", className: "link-button unit-switch", textContent: row.name, title: "切换到该单位", perm: "agency.view" });
  name.dataset.unitId = row.unit_id;
  name.addEventListener("click", () => switchTo(row).catch(toastError));
  const wrap = el("span", {}, name);
  if (row.current) wrap.append(el("span", { className: "badge unread", textContent: "当前单位" }));
  wrap.append(el("span", { className: "unit-sub-line", textContent: row.taxpayer_id }));
  return wrap;
}

const table = new DataTable(box, {
  endpoint: endpoints.agencyUnits,
  rowKey: "unit_id",
  selectable: true,
  pageSize: Number(box.dataset.pageSize) || 50,
  columns: [
    { key: "name", label: "单位名称", sortable: true, render: unitCell, className: "unit-cell" },
    { key: "region", label: "地区", sortable: true, render: (r) => r.region_label },
    { key: "employees", label: "在册职工", sortable: true, className: "num" },
    { key: "enrollment_at", label: "参保更新", sortable: true, render: ageText },
    { key: "wage_base_drafts", label: "工资草稿", sortable: true, className: "num", render: (r) => count(r.wage_base_drafts) },
    { key: "fee_pending", label: "待申报", sortable: true, className: "num", render: (r) => count(r.fee_pending) },
    { key: "queued", label: "待提交", sortable: true, className: "num", render: (r) => count(r.queued) },
    { key: "awaiting", label: "待反馈", sortable: true, className: "num", render: (r) => count(r.awaiting) },
    { key: "unknown", label: "待确认", sortable: true, className: "num", render: (r) => r.unknown ? el("span", { className: "error-text", textContent: String(r.unknown) }) : "—" },
    { key: "arrears_count", label: "欠费", sortable: true, className: "num", render: (r) => count(r.arrears_count) },
    { key: "arrears_amount", label: "欠费金额", sortable: true, className: "num", render: (r) => (r.arrears_count ? money(r.arrears_amount) : "—") },
    { key: "nearest_deadline", label: "限缴日期", sortable: true, render: deadlineText },
    { key: "backup_at", label: "最近备份", sortable: true, render: (r) => r.backup_at ? dateTime(r.backup_at).slice(0, 16) : el("span", { className: "warn-text", textContent: "无" }) },
  ],
  params: () => Object.fromEntries(new FormData(form).entries()),
  onSelect: (keys) => batchButtons.forEach((b) => (b.disabled = keys.length === 0 || running)),
  onLoad: (data) => {
    for (const row of data.rows) seen.set(row.unit_id, row);
    for (const [key, value] of Object.entries(data.totals)) {
      const cell = document.querySelector(`[data-total="${key}"]`);
      if (cell) cell.textContent = key === "arrears_amount" ? money(value) : value;
    }
  },
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  table.search();
});
form.addEventListener("reset", () => setTimeout(() => table.search(), 0));

// -- switching ----------------------------------------------------------------------------------
async function switchTo(row) {
  if (row.current) return void (window.location.href = "/");
  const answer = await post(endpoints.agencySwitch, { unit_id: row.unit_id });
  if (answer.switched) return void (window.location.href = answer.next);
  // Its first use in this start: the security check of the login wizard.
  if (answer.entered) {
    const ok = await confirm(`切换到「${row.name}」需要先通过该单位的申报密码验证，并退出当前单位。确定吗？`, { title: "切换单位" });
    if (!ok) return;
    await post(endpoints.logout, {});
  }
  window.location.href = answer.next;
}

// -- batches -------------------------------------------------------------------------------------

async function chosenRows() {
  if (!table.allMatching) return table.selectedKeys().map((id) => seen.get(id)).filter(Boolean);
  const rows = [];
  for (let page = 1; ; page += 1) { // every unit the filter matches, as 选中全部 said
    const query = new URLSearchParams({ ...table.filter, page, size: 500 });
    const data = await get(`${endpoints.agencyUnits}?${query}`);
    rows.push(...data.rows);
    if (rows.length >= data.total || !data.rows.length) return rows;
  }
}

function passwordRow(row) {
  const tr = el("tr", {});
  tr.dataset.unitId = row.unit_id;
  const cell = el("td", {});
  if (row.saved) {
    cell.append(el("span", { className: "muted", textContent: "使用已保存的申报密码" }));
  } else {
    const input = el("input", { type: "password", autocomplete: "off", maxLength: 64, className: "batch-password" });
    input.setAttribute("aria-label", `${row.name}的申报密码`);
    const remember = el("input", { type: "checkbox", className: "batch-remember", disabled: !keyring.available });
    const label = el("label", { className: "check-inline", title: keyring.available ? "保存在系统密码库中" : keyring.reason }, remember, " 记住");
    cell.append(input, " ", label);
  }
  tr.append(el("td", { textContent: `${row.name}（${row.region_label}）` }), cell);
  return tr;
}

async function startBatch(action, label) {
  const rows = await chosenRows();
  if (!rows.length) return;
  const list = el("tbody", {}, ...rows.map(passwordRow));
  const needing = rows.filter((r) => !r.saved).length;
  const body = el("div", {},
    el("p", { textContent: `对选中的 ${rows.length} 个单位${label}。每个单位使用自己的申报密码登录税务端；不切换当前单位。` }),
    needing ? el("p", { className: "muted", textContent: `${needing} 个单位没有保存申报密码：请输入，留空的单位将跳过（需要输入申报密码）。勾选「记住」才会保存。` }) : "",
    el("table", { className: "simple batch-units" }, el("thead", {}, el("tr", {}, el("th", { textContent: "单位名称" }), el("th", { textContent: "申报密码" }))), list));
  const dialog = formDialog(`批量${label}`, body, async () => {
    const units = [...list.querySelectorAll("tr")].map((tr) => ({
      unit_id: tr.dataset.unitId,
      password: tr.querySelector(".batch-password")?.value ?? "",
      remember: tr.querySelector(".batch-remember")?.checked === true,
    }));
    const { batch } = await post(endpoints.agencyBatch, { action, units });
    follow(batch);
  }, "开始");
  dialog.classList.add("wide");
  dialog.id = "batch-dialog";
}

for (const button of batchButtons) {
  button.addEventListener("click", () => startBatch(button.dataset.batch, button.textContent).catch(toastError));
}

const panel = document.getElementById("batch-panel");
const bar = document.getElementById("batch-bar");
const cancel = document.getElementById("batch-cancel");

function showBatch(batch) {
  panel.hidden = false;
  const { job } = batch;
  panel.dataset.jobId = job.id;
  document.getElementById("batch-title").textContent = `批量${batch.action_label}`;
  bar.max = Math.max(1, job.total || batch.lines.length);
  bar.value = job.done;
  const c = batch.counts;
  const state = job.state === "running" ? job.message || "进行中" : job.state === "cancelled" ? "已取消" : "已结束";
  document.getElementById("batch-label").textContent =
    `${state}：完成 ${c.done} 个，失败 ${c.failed} 个，未完成 ${c.waiting + c.running} 个`;
  cancel.disabled = job.state !== "running";
  const body = document.querySelector("#batch-lines tbody");
  body.replaceChildren(...batch.lines.map((line) => {
    const tr = el("tr", { className: line.state },
      el("td", { textContent: seen.has(line.unit_id) ? `${line.name}（${seen.get(line.unit_id).region_label}）` : line.name }),
      el("td", {}, el("span", { className: `badge ${line.state === "failed" ? "important" : line.state === "running" ? "unread" : ""}`, textContent: line.state_label })),
      el("td", { textContent: line.message }));
    tr.dataset.unitId = line.unit_id;
    return tr;
  }));
}

function follow(batch, polls = 0) {
  running = batch.job.state === "running";
  batchButtons.forEach((b) => (b.disabled = running || table.selectedCount() === 0));
  showBatch(batch);
  if (!running) {
    if (polls) {
      toast(`批量${batch.action_label}：完成 ${batch.counts.done} 个，失败 ${batch.counts.failed} 个`, batch.counts.failed ? "error" : "success");
      table.load().catch(toastError);
    }
    return;
  }
  setTimeout(async () => {
    try {
      follow((await get(endpoints.agencyBatchState(batch.job.id))).batch, polls + 1);
    } catch (err) { toastError(err); }
  }, POLL_MS[Math.min(polls, POLL_MS.length - 1)]);
}

cancel.addEventListener("click", async () => {
  const id = panel.dataset.jobId;
  if (id) await post(endpoints.jobCancel(id), {}).catch(toastError);
});
table.load().catch(toastError);
// Coming back to the page: the last batch (running or just finished) is shown again.
get(endpoints.agencyBatch).then(({ batch }) => {
  if (batch) follow(batch, batch.job.state === "running" ? 1 : 0);
}).catch(toastError);
