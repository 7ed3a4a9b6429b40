// 缴费工资申报记录: the local journal of payroll-base declarations, feedback, failure reasons.

import { endpoints, get, post } from "../api.js";
import { openDialog } from "../dialog.js";
import { JobProgress } from "../job.js";
import { DataTable } from "../table.js";
import { toast, toastError } from "../toast.js";

const box = document.getElementById("records");
const form = document.getElementById("query");
const sendButton = document.getElementById("send");
const feedbackButton = document.getElementById("feedback");

const STATE_CLASS = { accepted: "ok-text", rejected: "error-text", unknown: "warn-text", queued: "warn-text" };

function stateCell(entry) {
  if (entry.state !== "rejected") {
    const span = document.createElement("span");
    span.className = STATE_CLASS[entry.state] || "";
    span.textContent = entry.state_label;
    if (entry.last_error) span.title = entry.last_error;
    return span;
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link-button error-text";
  button.dataset.perm = "wage_base.view";
  button.textContent = `${entry.state_label}（查看原因）`;
  button.addEventListener("click", () => showReasons(entry));
  return button;
}

function noteCell(entry) {
  if (entry.state === "unknown" || entry.state === "queued") return entry.last_error || "";
  if (entry.state === "rejected") return `${entry.reason_count} 条失败原因`;
  return entry.taxside_id ? `税务端编号 ${entry.taxside_id}` : "";
}

const table = new DataTable(document.getElementById("record-table"), {
  endpoint: endpoints.wageBaseRecords,
  pageSize: Number(box.dataset.pageSize) || 50,
  columns: [
    { key: "created_at", label: "申报时间", className: "nowrap" },
    { key: "kind_label", label: "申报类型", className: "nowrap" },
    { key: "row_count", label: "人数" },
    { key: "summary", label: "内容" },
    { key: "operator", label: "操作员" },
    { key: "state", label: "申报状态", render: stateCell, className: "nowrap" },
    { key: "feedback_at", label: "反馈时间", className: "nowrap" },
    { key: "note", label: "说明", render: noteCell },
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

async function showReasons(entry) {
  const body = document.createElement("div");
  const holder = document.createElement("div");
  const reasons = new DataTable(holder, {
    endpoint: endpoints.wageBaseReasons(entry.id),
    pageSize: 20,
    columns: [
      { key: "row", label: "行", render: (r) => (r.row ? String(r.row) : "整笔") },
      { key: "name", label: "姓名" },
      { key: "id_number", label: "证件号码" },
      { key: "message", label: "失败原因" },
    ],
  });
  body.append(holder);
  reasons.load();
  const answer = await openDialog({
    title: `申报失败原因：${entry.summary}`,
    body,
    buttons: [
      { label: "关闭", value: null },
      { label: "复制回申报列表修改", value: "copy", primary: true },
    ],
  });
  if (answer === "copy") {
    try {
      const result = await post(endpoints.wageBaseCopyBack(entry.id), {});
      // The page changes at once: the draft page shows the message (a toast here would be lost).
      sessionStorage.setItem("wage-base-flash", result.message);
      window.location.href = `/wage-base/${result.kind}`;
    } catch (err) {
      toastError(err);
    }
  }
}

async function fetchFeedback({ quiet = false } = {}) {
  feedbackButton.disabled = true;
  try {
    const result = await post(endpoints.wageBaseFeedback, {});
    // On entering, speak only when something was decided (the summary shows what waits).
    if (!quiet || result.accepted || result.rejected) toast(result.message, result.rejected ? "info" : "success");
    table.load();
  } catch (err) {
    if (!quiet || err.code !== "offline") toastError(err);
  } finally {
    feedbackButton.disabled = false;
  }
}

const sendBox = document.getElementById("send-progress");
const sending = new JobProgress(sendBox, {
  cancellable: false,
  onDone: (job) => {
    sendBox.hidden = true;
    toast(job.result.message, "success");
    table.load();
  },
  onError: (err) => {
    sendBox.hidden = true;
    toastError(err);
    table.load();
  },
});

sendButton.addEventListener("click", async () => {
  try {
    const result = await post(endpoints.wageBaseSend, {});
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

// Entering the page asks the tax side about what waits for feedback (manual 3.1.5.3).
table.load().then(() => fetchFeedback({ quiet: true }));
sending.reattach("outbox").catch(() => {});
