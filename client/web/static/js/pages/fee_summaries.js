// 日常申报 / 特殊缴费申报: the tax side's pre-processed summaries, person details, the local
// fee check (beyond the official client) and 提交申报 through the journal and the one sender.

import { download, endpoints, get, post } from "../api.js";
import { confirm, openDialog } from "../dialog.js";
import { count, dateTime, money, period } from "../format.js";
import { JobProgress } from "../job.js";
import { DataTable } from "../table.js";
import { toast, toastError } from "../toast.js";
import { el, periodRange, senderProgress } from "./fee_common.js";

const box = document.getElementById("fee-summaries");
const kind = box.dataset.kind;
const special = kind === "special";
const form = document.getElementById("query");
const submitButton = document.getElementById("submit");
const checkButton = document.getElementById("check");
const refreshButton = document.getElementById("refresh");
const checkBox = document.getElementById("check-result");
const seen = new Map(); // summary_id -> row, for the confirmation's total across pages

function headcountCell(row) {
  const text = String(row.headcount);
  if (!row.has_details || !row.headcount) return text;
  const link = el("button", { type: "button", className: "link-button", textContent: text, title: "查看人员明细", perm: "fee_declaration.view" });
  link.dataset.details = row.summary_id;
  link.addEventListener("click", () => showDetails(row));
  return link;
}

function stateCell(row) {
  return el("span", { className: row.submitted ? "warn-text" : "", textContent: row.state_label });
}

const part = (name) => (row) => (row.part === name ? money(row.amount) : "");

const columns = [
  { key: "unit_number", label: "单位编号", className: "nowrap" },
  { key: "agency", label: "社保经办机构", className: "agency" },
  { key: "period", label: special ? "费款所属期起止" : "费款所属期", className: special ? "" : "nowrap",
    render: (r) => periodRange(r.period_from, r.period_to) },
  ...(special ? [{ key: "special_type", label: "缴费类型", className: "nowrap" }] : []),
  { key: "item_name", label: "征收项目" },
  { key: "part_name", label: "征收品目", className: "nowrap" },
  { key: "headcount", label: "缴费人数", className: "num", render: headcountCell },
  { key: "employer", label: "单位应缴", className: "num", render: part("employer") },
  { key: "employee", label: "个人应缴", className: "num", render: part("employee") },
  { key: "amount", label: "合计", className: "num", render: (r) => money(r.amount) },
  { key: "state", label: "状态", className: "nowrap", render: stateCell },
];

// "2025-03" (typed like every other month field) -> "202503" for the server.
function queryParams() {
  const values = Object.fromEntries(new FormData(form).entries());
  const typed = (values.period || "").trim();
  const match = /^(\d{4})-?(\d{2})$/.exec(typed);
  if (typed && !match) throw new Error("费款所属期格式应为 YYYY-MM（如 2025-03）");
  values.period = match ? `${match[1]}${match[2]}` : "";
  return values;
}

const table = new DataTable(document.getElementById("summaries"), {
  endpoint: endpoints.feeSummaries(kind),
  rowKey: "summary_id",
  columns,
  selectable: true,
  pageSize: Number(box.dataset.pageSize) || 50,
  params: () => queryParams(),
  onSelect: () => {
    const none = table.selectedCount() === 0;
    submitButton.disabled = none;
    checkButton.disabled = none;
  },
  onLoad: (data) => {
    for (const r of data.rows) seen.set(r.summary_id, r);
    showTotals(data.totals);
  },
});

function showTotals(t) {
  const line = document.getElementById("totals");
  line.textContent = t.count
    ? `共 ${count(t.count)} 条预处理汇总，缴费人次 ${count(t.headcount)}，应缴合计 ${money(t.amount)} 元`
    : "";
  document.getElementById("fetched").textContent = t.fetched_at ? `上次查询：${dateTime(t.fetched_at)}` : "";
}

// The chosen summaries: the ticked ones, or every one the query matches (选中全部 N 条).
async function chosenIds() {
  if (!table.allMatching) return table.selectedKeys();
  const ids = [];
  for (let page = 1; ; page += 1) {
    const query = new URLSearchParams({ ...table.filter, page, size: 500 });
    const data = await get(`${endpoints.feeSummaries(kind)}?${query}`);
    for (const r of data.rows) {
      seen.set(r.summary_id, r);
      ids.push(r.summary_id);
    }
    if (ids.length >= data.total || !data.rows.length) return ids;
  }
}

// -- 刷新: on entry and on the button ----------------------------------------------------------------
const refreshBox = document.getElementById("refresh-progress");
const refreshing = new JobProgress(refreshBox, {
  cancellable: false,
  onDone: (job) => {
    refreshBox.hidden = true;
    refreshButton.disabled = false;
    toast(job.result.message, "success");
    table.search();
  },
  onError: (err) => {
    refreshBox.hidden = true;
    refreshButton.disabled = false;
    toast(`查询预处理汇总失败：${err.message}。以下为上次查询的数据，可点击「刷新」重试。`, "error");
    table.load();
  },
});

async function refresh() {
  refreshButton.disabled = true;
  try {
    refreshing.attach((await post(endpoints.feeSummariesRefresh(kind), {})).job);
  } catch (err) {
    refreshButton.disabled = false;
    if (err.code === "job_running") return refreshing.reattach(`fee_summaries_refresh_${kind}`);
    toast(`${err.message}。以下为上次查询的数据。`, "error");
  }
  return null;
}
refreshButton.addEventListener("click", () => refresh());

// -- 人员明细 ---------------------------------------------------------------------------------------------
function showDetails(row) {
  const holder = el("div", { className: "details-table" });
  const source = el("p", { className: "muted" });
  const details = new DataTable(holder, {
    endpoint: endpoints.feeSummaryDetails(row.summary_id),
    rowKey: "employee_id",
    pageSize: 20,
    columns: [
      { key: "name", label: "姓名", className: "nowrap" },
      { key: "id_type_name", label: "证件类型", className: "nowrap" },
      { key: "id_number", label: "证件号码", className: "nowrap" },
      { key: "period", label: "费款所属期", className: "nowrap", render: (r) => period(r.period) },
      { key: "base", label: "计费基数", className: "num", render: (r) => money(r.base) },
      { key: "amount", label: "应缴金额", className: "num", render: (r) => money(r.amount) },
    ],
    onLoad: (data) => {
      source.textContent = data.source === "local" ? "数据来源：本机已下载的人员明细" : "数据来源：税务端";
    },
  });
  const title = `人员明细：${row.item_name} ${row.part_name} ${periodRange(row.period_from, row.period_to)}（${row.unit_number}）`;
  const body = el("div", {}, holder, source);
  details.load();
  openDialog({ title, body }).then(() => {});
  body.closest("dialog")?.classList.add("wide");
}

// -- 本地核对 -----------------------------------------------------------------------------------------
const checkProgressBox = document.getElementById("check-progress");
let checkedIds = [];
const checking = new JobProgress(checkProgressBox, {
  cancellable: false,
  onDone: (job) => {
    checkProgressBox.hidden = true;
    checkButton.disabled = table.selectedCount() === 0;
    showCheck(job.result);
  },
  onError: (err) => {
    checkProgressBox.hidden = true;
    checkButton.disabled = table.selectedCount() === 0;
    toast(`本地核对未完成：${err.message}`, "error");
  },
});

async function runCheck(ids) {
  checkButton.disabled = true;
  try {
    checkedIds = ids;
    checking.attach((await post(endpoints.feeCheck, { summary_ids: ids })).job);
  } catch (err) {
    checkButton.disabled = false;
    toastError(err);
  }
}
checkButton.addEventListener("click", async () => runCheck(await chosenIds()));

function itemResult(i) {
  if (!i.differs) return el("span", { className: "ok-text", textContent: "一致" });
  const parts = [];
  if (i.tax_headcount !== i.local_headcount) parts.push(`人数 ${i.tax_headcount} / 本地 ${i.local_headcount}`);
  if (i.tax_amount !== i.local_amount) parts.push(`应缴相差 ${money(i.amount_difference)} 元`);
  if (i.differences) parts.push(`${i.differences} 名职工不一致`);
  return el("span", { className: "error-text", textContent: `不一致：${parts.join("，") || "计费基数合计不同"}` });
}

function simpleTable(headers, rows, className = "") {
  const head = el("tr", {}, ...headers.map((h) => el("th", { textContent: h })));
  const body = rows.map((cells) => el("tr", {}, ...cells.map((c) => {
    const td = el("td");
    if (c && typeof c === "object" && "node" in c) {
      td.append(c.node);
      if (c.className) td.className = c.className;
    } else td.textContent = c ?? "";
    return td;
  })));
  return el("table", { className: `simple ${className}` }, el("thead", {}, head), el("tbody", {}, ...body));
}

const num = (text) => ({ node: document.createTextNode(text), className: "num" });

function showCheck(result) {
  checkBox.hidden = false;
  const heading = el("h3", { textContent: "本地核对结果" });
  const close = el("button", { type: "button", className: "btn small", textContent: "关闭" });
  close.addEventListener("click", () => { checkBox.hidden = true; });
  // Worded here: the stale part has its own line below, with times formatted.
  const differing = result.items.filter((i) => i.differs).length;
  const verdict = differing
    ? `${differing} 条汇总与本地计算不一致${result.difference_count ? `，${result.difference_count} 处职工明细差异` : ""}`
    : `${result.items.length} 条汇总与本地计算一致`;
  const line = el("p", { className: differing ? "warn-text" : "ok-text",
    textContent: [verdict, ...result.notes].join("；") });
  const parts = [el("div", { className: "check-head" }, heading, close), line];
  if (result.stale) {
    const update = el("button", { type: "button", className: "btn small", id: "update-enrollment",
      textContent: "更新职工参保信息", perm: "enrollment.edit" });
    update.addEventListener("click", () => updateEnrollment(update));
    parts.push(el("p", { className: "warn-text stale-note" },
      `本机参保数据较旧（最后更新：${result.last_update ? dateTime(result.last_update) : "从未更新"}，税务端汇总计算于 ${dateTime(result.computed_at)}）。 `,
      update));
  }
  parts.push(simpleTable(
    ["征收项目", "征收品目", "费款所属期", "单位编号", "税务端人数", "本地人数", "税务端应缴", "本地计算应缴", "核对结果"],
    result.items.map((i) => [i.item_name, i.part_name, i.period_label.includes("-") ? periodRange(...i.period_label.split("-")) : period(i.period_label),
      i.unit_number, num(String(i.tax_headcount)), num(String(i.local_headcount)), num(money(i.tax_amount)),
      num(money(i.local_amount)), { node: itemResult(i) }]),
    "check-items",
  ));
  if (result.difference_count) {
    const shown = result.differences.length;
    parts.push(el("p", { textContent: `职工明细差异 ${result.difference_count} 处${shown < result.difference_count ? `（此处显示前 ${shown} 处，导出可查看全部）` : ""}：` }));
    parts.push(simpleTable(
      ["差异类型", "姓名", "证件号码", "征收项目", "费款所属期", "税务端计费基数", "本地计费基数", "税务端应缴", "本地计算应缴"],
      result.differences.map((d) => [d.kind_label, d.name, d.id_number, `${d.item_name}${d.part_name}`, period(d.period),
        num(money(d.tax_base)), num(money(d.local_base)), num(money(d.tax_amount)), num(money(d.local_amount))]),
      "check-differences",
    ));
  }
  const actions = el("div", { className: "toolbar" });
  if (!result.ok) {
    const exportButton = el("button", { type: "button", className: "btn", id: "export-differences", textContent: "导出差异" });
    exportButton.addEventListener("click", async () => {
      try {
        toast(`已导出：${await download(endpoints.feeCheckExport, { summary_ids: checkedIds })}`, "success");
      } catch (err) {
        toastError(err);
      }
    });
    actions.append(exportButton);
  }
  actions.append(el("span", { className: "muted", textContent: "核对结果仅供参考，仍可提交申报；以税务端汇总为准。" }));
  parts.push(actions);
  checkBox.replaceChildren(...parts);
}

function updateEnrollment(button) {
  button.disabled = true;
  const holder = el("div");
  button.after(holder);
  const progress = new JobProgress(holder, {
    cancellable: false,
    onDone: (job) => {
      holder.remove();
      toast(job.result?.message || "职工参保信息已更新", "success");
      runCheck(checkedIds);
    },
    onError: (err) => {
      holder.remove();
      button.disabled = false;
      toastError(err);
    },
  });
  post(endpoints.enrollmentSync, { mode: "incremental" })
    .then((answer) => progress.attach(answer.job))
    .catch((err) => {
      holder.remove();
      button.disabled = false;
      if (err.code === "job_running") progress.reattach("enrollment_sync");
      else toastError(err);
    });
}

// Exact sums of decimal strings ("153600.00"): no float ever touches an amount.
function cents(text) {
  const [whole, frac = ""] = String(text || "0").split(".");
  return BigInt(whole) * 100n + BigInt((frac + "00").slice(0, 2));
}

// -- 提交申报 -----------------------------------------------------------------------------------------
const sendBox = document.getElementById("send-progress");
const sending = senderProgress(sendBox, () => table.load(), "。请到「申报记录」获取反馈。");

submitButton.addEventListener("click", async () => {
  const ids = await chosenIds();
  const total = ids.reduce((sum, id) => sum + cents(seen.get(id)?.amount), 0n);
  const yuan = money(`${total / 100n}.${String(total % 100n).padStart(2, "0")}`);
  if (!(await confirm(`提交 ${ids.length} 条预处理汇总的申报，应缴合计 ${yuan} 元。确定提交吗？`, { ok: "提交申报" }))) return;
  submitButton.disabled = true;
  try {
    const result = await post(endpoints.feeSubmit, { summary_ids: ids });
    toast(result.message, "success", 6000);
    if (result.job) sending.attach(result.job);
    table.search();
  } catch (err) {
    toastError(err);
    submitButton.disabled = false;
  }
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  try {
    queryParams();
  } catch (err) {
    toastError(err);
    return;
  }
  table.search();
});
form.addEventListener("reset", () => setTimeout(() => table.search(), 0));

// Entering the page shows what is here at once and asks the tax side (manual 3.1.6.1).
table.load().then(() => refresh());
sending.reattach("outbox").catch(() => {});
