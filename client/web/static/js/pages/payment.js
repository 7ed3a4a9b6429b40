// 缴款 (manual 3.1.7.1): the arrears queried on entry (刷新 retries and the last list stays
// shown), the totals of the selection, and 立即缴款 by 三方协议 or 银行端缴款凭证.

import { endpoints, get, post } from "../api.js";
import { openDialog } from "../dialog.js";
import { dateTime, money } from "../format.js";
import { JobProgress } from "../job.js";
import { toast, toastError } from "../toast.js";
import { ListTable, cents, el, monthParam, periodRange, sum, yuan } from "./payment_common.js";

const box = document.getElementById("payment-arrears");
const form = document.getElementById("query");
const payButton = document.getElementById("pay");
const refreshButton = document.getElementById("refresh");
const refreshError = document.getElementById("refresh-error");
let last = null; // the last answer of GET /api/payment/arrears

const overdue = (r) => r.state === "unpaid" && last && r.deadline < last.estimated_on;

function daysBetween(from, to) {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400000);
}

function deadlineCell(r) {
  if (!overdue(r)) return r.deadline;
  return el("span", { className: "error-text overdue", title: "已超过限缴日期，按日加收滞纳金" }, r.deadline,
    el("span", { className: "sub-line", textContent: `已逾期 ${daysBetween(r.deadline, last.estimated_on)} 天` }));
}

function lateFeeCell(r) {
  const estimate = r.late_fee_estimate ?? r.late_fee;
  const node = el("span", { textContent: money(estimate) });
  if (r.late_fee_estimate != null && r.late_fee_estimate !== r.late_fee) {
    node.title = `税务端计算至 ${last?.today || ""}：${money(r.late_fee)} 元`;
  }
  return node;
}

function stateCell(r) {
  if (r.state === "paid") return el("span", { className: "ok-text", textContent: r.tax_ticket ? `已缴款（${r.tax_ticket}）` : "已缴款" });
  if (r.hold === "voucher") {
    return el("span", { className: "warn-text" }, r.hold_label,
      el("span", { className: "sub-line", textContent: r.voucher_id ? `凭证 ${r.voucher_id}` : "" }));
  }
  if (r.hold === "debit") {
    return el("span", { className: "warn-text", title: r.hold_label }, "扣款待确认",
      el("span", { className: "sub-line", textContent: "请勿重复缴款" }));
  }
  if (r.open_entry) {
    // "三方协议缴款（待反馈）": the kind, and its state beneath, so the column stays narrow.
    const [kind, state = ""] = r.open_entry.split("（");
    return el("span", { className: "warn-text", title: r.open_entry }, kind,
      el("span", { className: "sub-line", textContent: state.replace("）", "") }));
  }
  return el("span", { textContent: r.state_label });
}

// 北京市海淀区社会保险事业管理中心: when the column is narrow it breaks after the district,
// never inside a word (the cell keeps CJK words whole; <wbr> is the one break allowed).
function agencyCell(r) {
  const match = /^(.+?[区县旗])(.+)$/.exec(r.agency || "") || /^(.+?市)(.+)$/.exec(r.agency || "");
  if (!match) return r.agency || "";
  return el("span", {}, match[1], el("wbr"), match[2]);
}

const table = new ListTable(document.getElementById("arrears"), {
  rowKey: "arrear_id",
  selectable: true,
  canSelect: (r) => r.payable,
  emptyText: "没有欠费信息",
  pageSize: Number(box.dataset.pageSize) || 50,
  columns: [
    { key: "unit_number", label: "社保单位编号", className: "nowrap" },
    { key: "agency", label: "社保经办机构", className: "agency", render: agencyCell },
    { key: "item_name", label: "征收项目", className: "nowrap" },
    { key: "part_name", label: "征收品目", className: "nowrap" },
    { key: "period", label: "费款所属期", className: "nowrap", render: (r) => periodRange(r.period_from, r.period_to) },
    { key: "amount", label: "应缴金额", className: "num", render: (r) => money(r.amount) },
    { key: "deadline", label: "限缴日期", className: "nowrap", render: deadlineCell },
    { key: "late_fee", label: "滞纳金", className: "num", render: lateFeeCell },
    { key: "state", label: "状态", className: "nowrap", render: stateCell },
  ],
  onSelect: () => showTotals(),
});

function showTotals() {
  const chosen = table.selectedItems();
  payButton.disabled = chosen.length === 0;
  document.getElementById("count-total").textContent = String(last?.count ?? 0);
  document.getElementById("amount-total").textContent = money(last?.amount_total ?? "0.00");
  document.getElementById("count-selected").textContent = String(chosen.length);
  document.getElementById("amount-selected").textContent = yuan(sum(chosen, "amount"));
  const estimate = last?.late_fee_estimate_total;
  const late = document.getElementById("late-estimate");
  late.textContent = estimate == null ? "—" : money(estimate);
  late.title = last?.estimate_note || "";
  late.classList.toggle("error-text", estimate != null && cents(estimate) > 0n);
}

let reloads = 0; // the entry's local load and the refresh's reload may overlap: the newest wins

// The 费款所属期 typed, as the API takes it; null (said in a toast) when it is not a month.
function periodAsked() {
  try {
    return monthParam(new FormData(form).get("period"));
  } catch (err) {
    toastError(err);
    return null;
  }
}

async function reload() {
  const mine = ++reloads;
  const period = periodAsked();
  if (period === null) return;
  let found;
  try {
    found = await get(`${endpoints.paymentArrears}${period ? `?period=${period}` : ""}`);
  } catch (err) {
    if (mine !== reloads) return;
    table.error = err;
    table.render();
    return;
  }
  if (mine !== reloads) return;
  await show(found);
}

async function show(found) { // an answer of GET /api/payment/arrears
  last = found;
  table.setItems(last.items);
  await table.load();
  document.getElementById("fetched").textContent = last.fetched_at
    ? `上次查询：${dateTime(last.fetched_at)}（税务端日期 ${last.today}）` : "尚未从税务端查询欠费信息";
  showTotals();
}

// -- 刷新: on entry and on the button; a failure keeps the last list with its time ----------------
const refreshBox = document.getElementById("refresh-progress");

function refreshFailed(err) {
  refreshBox.hidden = true;
  refreshButton.disabled = false;
  const when = last?.fetched_at ? `以下为 ${dateTime(last.fetched_at)} 查询到的欠费信息` : "本机还没有欠费信息";
  refreshError.hidden = false;
  refreshError.textContent = `查询欠费信息失败：${err.message}。${when}，可点击「刷新」重试。`;
}

let handed = null; // the list the refresh's answer carried, when no load began after it was asked

const refreshing = new JobProgress(refreshBox, {
  cancellable: false,
  onDone: async (job) => {
    refreshBox.hidden = true;
    refreshButton.disabled = false;
    refreshError.hidden = true;
    if (announce) toast(job.result.message, "success");
    announce = true;
    const list = handed;
    handed = null;
    if (list) await show(list);
    else await reload();
  },
  onError: (err) => {
    refreshFailed(err);
    reload();
  },
});

let announce = true; // a refresh after a payment updates the list without a toast

// POST 刷新; a refresh that ends at once answers with the list then stored (for the period
// typed now), shown unless another load began meanwhile (newer: it wins).
async function startRefresh() {
  handed = null;
  const period = periodAsked();
  const sent = reloads;
  const answer = await post(endpoints.paymentRefresh, period === null ? {} : { list: { period } });
  if (answer.arrears && sent === reloads) {
    ++reloads; // an older load still under way (the entry's local one) no longer counts
    handed = answer.arrears;
  }
  refreshing.attach(answer.job);
}

async function refresh() {
  announce = true;
  refreshButton.disabled = true;
  try {
    await startRefresh();
  } catch (err) {
    if (err.code === "job_running") {
      if (!(await refreshing.reattach("payment_refresh"))) refreshButton.disabled = false;
      return;
    }
    refreshFailed(err);
  }
}
refreshButton.addEventListener("click", () => refresh());

// -- 立即缴款 -------------------------------------------------------------------------------------
async function choose() {
  // The payment dialogs load when first wanted (entering the page needs one module less),
  // while the operator picks the method.
  const dialogs = import("./payment_pay.js");
  dialogs.catch(() => {}); // a failed load is said when a method needs it, not when cancelled
  const chosen = table.selectedItems();
  const body = el("div", { className: "pay-methods" },
    el("p", { textContent: `已选 ${chosen.length} 条欠费，应缴金额 ${yuan(sum(chosen, "amount"))} 元。请选择缴款方式：` }),
    el("dl", { className: "detail-grid" },
      el("dt", { textContent: "三方协议缴款" }),
      el("dd", { textContent: "从本单位与税务机关、银行签订的三方协议账户直接扣款，缴款成功后生成缴款记录。" }),
      el("dt", { textContent: "银行端缴款凭证" }),
      el("dd", { textContent: "开具并打印银行端缴款凭证，携带凭证到银行柜台缴款；凭证所列欠费在缴款或作废前不能再次缴款。" })));
  const method = await openDialog({
    title: "选择缴款方式",
    body,
    buttons: [
      { label: "取消", value: null },
      { label: "银行端缴款凭证", value: "voucher" },
      { label: "三方协议缴款", value: "debit", primary: true },
    ],
  });
  const ids = chosen.map((r) => r.arrear_id);
  const done = async () => {
    table.clearSelection();
    await refreshQuietly();
  };
  if (method === "debit") await (await dialogs).debitDialog(ids, last?.agreements || [], done);
  else if (method === "voucher") await (await dialogs).voucherDialog(ids, done);
}
payButton.addEventListener("click", () => choose().catch(toastError));

// After a payment the list is asked again (paid ones leave it); offline it is reloaded here.
async function refreshQuietly() {
  announce = false;
  try {
    refreshButton.disabled = true;
    await startRefresh();
  } catch {
    refreshButton.disabled = false;
    await reload();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  table.clearSelection();
  reload();
});
form.addEventListener("reset", () => setTimeout(() => { table.clearSelection(); reload(); }, 0));

// Entering the page shows the last list at once and asks the tax side (manual 3.1.7.1);
// the question goes out at once too, not after the local list is drawn.
reload();
refresh();
