// 社保费申报记录: the tax side's records of every channel merged with this PC's declarations,
// 同步 by date range, 获取反馈, 作废 with a reason, and the way on to payment.

import { endpoints, post } from "../api.js";
import { openDialog } from "../dialog.js";
import { dateTime, money } from "../format.js";
import { DataTable } from "../table.js";
import { toast, toastError } from "../toast.js";
import { el, field, formDialog, periodRange, senderProgress } from "./fee_common.js";

const box = document.getElementById("fee-records");
const form = document.getElementById("query");
const sendButton = document.getElementById("send");
const feedbackButton = document.getElementById("feedback");
const syncButton = document.getElementById("sync");
const successNote = document.getElementById("success-note");
const MAX_REASON = 100;

const STATUS_CLASS = {
  accepted: "ok-text", voided: "muted", rejected: "error-text", unknown: "warn-text", queued: "warn-text",
  awaiting: "warn-text", sending: "warn-text",
};

function payLink() {
  return el("a", { href: "/payment", className: "pay-link", textContent: "去缴款", title: "到费款缴纳页面缴款", perm: "payment.view" });
}

function statusCell(r) {
  if (r.status === "rejected") {
    const button = el("button", { type: "button", className: "link-button error-text",
      textContent: `${r.status_label}（查看原因）`, perm: "fee_declaration.view" });
    button.addEventListener("click", () => showReasons(r));
    return button;
  }
  return el("span", { className: STATUS_CLASS[r.status] || "", textContent: r.status_label });
}

function periods(r) {
  const found = new Set((r.summaries || []).map((s) => periodRange(s.period_from, s.period_to)));
  return [...found].join("、");
}

function items(r) {
  const names = [...new Set((r.summaries || []).map((s) => s.item_name).filter(Boolean))];
  return `${r.summary_count} 条汇总${names.length ? `：${names.join("、")}` : ""}`;
}

function noteCell(r) {
  const parts = [];
  if (r.status === "voided" && r.voided_at) parts.push(`作废于 ${dateTime(r.voided_at)}`);
  if (r.void_state === "rejected") parts.push("作废申请未通过");
  else if (r.void_state && r.status !== "voided" && r.void_state !== "accepted") parts.push(`作废申请${r.void_state_label}`);
  if (r.status === "accepted" && r.paid) parts.push("已缴款");
  if (r.declaration_id) parts.push(`申报编号 ${r.declaration_id}`);
  if (r.operator) parts.push(`操作员 ${r.operator}`);
  return parts.join("；");
}

function actionCell(r) {
  const wrap = el("span", { className: "row-actions" });
  const details = el("button", { type: "button", className: "link-button", textContent: "详情" });
  details.addEventListener("click", () => showDetails(r));
  wrap.append(details);
  if (r.can_void) {
    const voidButton = el("button", { type: "button", className: "link-button", textContent: "作废", perm: "fee_declaration.void" });
    voidButton.dataset.void = r.declaration_id;
    voidButton.addEventListener("click", () => voidRecord(r));
    wrap.append(voidButton);
  }
  if (r.status === "accepted" && !r.paid) wrap.append(payLink());
  return wrap;
}

const table = new DataTable(document.getElementById("record-table"), {
  endpoint: endpoints.feeRecords,
  rowKey: "declaration_id",
  pageSize: Number(box.dataset.pageSize) || 50,
  columns: [
    { key: "date", label: "申报日期", className: "nowrap" },
    { key: "channel", label: "申报渠道", className: "nowrap" },
    { key: "period", label: "费款所属期", className: "nowrap", render: periods },
    { key: "summary_count", label: "申报内容", render: items },
    { key: "total_amount", label: "应缴金额", className: "num", render: (r) => money(r.total_amount) },
    { key: "status", label: "申报状态", className: "nowrap", render: statusCell },
    { key: "note", label: "说明", render: noteCell },
    { key: "actions", label: "操作", className: "nowrap", render: actionCell },
  ],
  params: () => Object.fromEntries(new FormData(form).entries()),
  onLoad: (data) => showOpen(data.open),
});

function showOpen(open) {
  const toSend = open.queued + open.sending + open.unknown;
  const parts = [];
  if (open.awaiting) parts.push(`${open.awaiting} 笔待反馈`);
  if (toSend) parts.push(`${toSend} 笔待提交或待确认`);
  document.getElementById("open-summary").textContent = parts.join("，");
  sendButton.hidden = toSend === 0;
}

function summaryTable(rows) {
  const head = el("tr", {}, ...["征收项目", "征收品目", "费款所属期", "单位编号", "缴费人数", "应缴金额"]
    .map((h) => el("th", { textContent: h })));
  const body = rows.map((s) => el("tr", {},
    el("td", { textContent: s.item_name || "" }), el("td", { textContent: s.part_name || "" }),
    el("td", { className: "nowrap", textContent: periodRange(s.period_from, s.period_to) }),
    el("td", { className: "nowrap", textContent: s.unit_number || "" }),
    el("td", { className: "num", textContent: s.headcount ?? "" }),
    el("td", { className: "num", textContent: money(s.amount) })));
  return el("table", { className: "simple" }, el("thead", {}, head), el("tbody", {}, ...body));
}

function showDetails(r) {
  const body = el("div", {}, el("p", { textContent: `${r.date} · ${r.channel} · ${r.status_label} · 应缴金额 ${money(r.total_amount)} 元` }),
    summaryTable(r.summaries || []));
  if ((r.arrears || []).length) {
    const deadlines = [...new Set(r.arrears.map((a) => a.deadline).filter(Boolean))].join("、");
    if (deadlines && r.status === "accepted") body.append(el("p", { textContent: `限缴日期：${deadlines}` }));
  }
  openDialog({ title: `申报详情${r.declaration_id ? `：${r.declaration_id}` : ""}`, body });
}

function showReasons(r) {
  const list = el("ul", {}, ...(r.reasons || []).map((x) => el("li", { textContent: x.message })));
  const body = el("div", {}, el("p", { textContent: r.summary }), list,
    el("p", { className: "muted", textContent: "请到日常申报或特殊缴费申报页面点击「刷新」后重新选择并提交。" }));
  openDialog({ title: "申报失败原因", body });
}

// -- 作废 ---------------------------------------------------------------------------------------------
function voidRecord(r) {
  const reason = el("textarea", { name: "reason", rows: 3, maxLength: MAX_REASON, placeholder: "如：申报数据有误" });
  const counter = el("small", { className: "muted", textContent: `0/${MAX_REASON}` });
  reason.addEventListener("input", () => { counter.textContent = `${reason.value.length}/${MAX_REASON}`; });
  const body = el("div", {},
    el("p", { textContent: `作废 ${r.date} 的申报（${items(r)}，应缴金额 ${money(r.total_amount)} 元）。只能作废申报当月、尚未缴款的申报；作废后对应的预处理汇总恢复为待申报。` }),
    field("作废原因", reason), counter);
  formDialog("作废申报", body, async () => {
    const result = await post(endpoints.feeVoid(r.declaration_id), { reason: reason.value });
    toast(result.message, "success", 6000);
    if (result.job) sending.attach(result.job);
    table.load();
  }, "确定作废");
}

// -- 同步 ---------------------------------------------------------------------------------------------
async function sync(range, { quiet = false } = {}) {
  syncButton.disabled = true;
  try {
    const result = await post(endpoints.feeRecordsSync, range);
    if (!quiet) toast(result.message, "success");
    table.load();
    return result;
  } finally {
    syncButton.disabled = false;
  }
}

syncButton.addEventListener("click", () => {
  const from = el("input", { type: "text", name: "date_from", className: "date-input", value: box.dataset.from,
    placeholder: box.dataset.from, inputMode: "numeric", maxLength: 10 });
  const to = el("input", { type: "text", name: "date_to", className: "date-input", value: box.dataset.to,
    placeholder: box.dataset.to, inputMode: "numeric", maxLength: 10 });
  const body = el("div", {}, el("p", { textContent: "从税务端同步该申报日期范围内的申报记录（包括其他渠道的申报，最长 366 天）。" }),
    field("申报日期起（YYYY-MM-DD）", from), field("申报日期止（YYYY-MM-DD）", to));
  formDialog("同步申报记录", body, () => sync({ date_from: from.value, date_to: to.value }), "同步");
});

// -- 获取反馈 -------------------------------------------------------------------------------------------
function showSuccess(count) {
  successNote.hidden = false;
  successNote.replaceChildren(
    el("span", { className: "ok-text", textContent: `${count} 笔申报成功。` }),
    "申报成功后税务端生成欠费，请在限缴日期前缴款。", payLink(),
  );
}

// What waited on screen (declarations 待反馈, voids 待反馈): after a sync or feedback the
// page says what was decided, in its own words (a void accepted is 作废成功, not 申报成功),
// and new successes get the way on to payment.
function waiting() {
  return {
    declarations: new Set(table.rows.filter((r) => r.status === "awaiting" && r.entry_id).map((r) => r.entry_id)),
    voids: new Set(table.rows.filter((r) => r.void_state === "awaiting").map((r) => r.declaration_id)),
  };
}

function decided(before) {
  const count = (test) => table.rows.filter(test).length;
  const found = {
    accepted: count((r) => r.status === "accepted" && before.declarations.has(r.entry_id)),
    rejected: count((r) => r.status === "rejected" && before.declarations.has(r.entry_id)),
    voided: count((r) => r.status === "voided" && before.voids.has(r.declaration_id)),
    voidRefused: count((r) => r.void_state === "rejected" && before.voids.has(r.declaration_id)),
  };
  if (found.accepted) showSuccess(found.accepted);
  const parts = [];
  if (found.accepted) parts.push(`申报成功 ${found.accepted} 笔`);
  if (found.rejected) parts.push(`申报失败 ${found.rejected} 笔（点击状态查看原因）`);
  if (found.voided) parts.push(`作废成功 ${found.voided} 笔`);
  if (found.voidRefused) parts.push(`作废未通过 ${found.voidRefused} 笔`);
  return { ...found, text: parts.join("，") };
}

async function fetchFeedback({ quiet = false, before = waiting() } = {}) {
  feedbackButton.disabled = true;
  let result = null;
  try {
    result = await post(endpoints.feeFeedback, {});
  } catch (err) {
    if (!quiet || err.code !== "offline") toastError(err);
  } finally {
    feedbackButton.disabled = false;
  }
  await table.load();
  const found = decided(before);
  const parts = [found.text];
  if (result?.processing) parts.push(`${result.processing} 笔税务端仍在处理，请稍后再获取反馈`);
  const text = parts.filter(Boolean).join("；");
  // On entering, speak only when something was decided (the summary shows what waits).
  if (text) toast(`已获取反馈：${text}`, found.rejected || found.voidRefused ? "info" : "success", 6000);
  else if (!quiet && result) toast(result.message);
}

const sendBox = document.getElementById("send-progress");
const sending = senderProgress(sendBox, () => table.load());

sendButton.addEventListener("click", async () => {
  try {
    const result = await post(endpoints.feeSend, {});
    if (result.job) sending.attach(result.job);
    else toast(result.message);
  } catch (err) {
    toastError(err);
  }
});
feedbackButton.addEventListener("click", () => fetchFeedback());
form.addEventListener("submit", (event) => {
  event.preventDefault();
  table.search();
});
form.addEventListener("reset", () => setTimeout(() => table.search(), 0));

// Entering the page: the last two months from the tax side, then feedback (manual 3.1.6.3).
let entered = { declarations: new Set(), voids: new Set() };
table.load()
  .then(() => { entered = waiting(); })
  .then(() => sync({}, { quiet: true }))
  .catch((err) => { if (err.code !== "offline") toast(`同步税务端申报记录失败：${err.message}`, "error"); })
  .then(() => fetchFeedback({ quiet: true, before: entered }));
sending.reattach("outbox").catch(() => {});
