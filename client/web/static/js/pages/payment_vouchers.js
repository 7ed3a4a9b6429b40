// 缴款凭证打印记录 (manual 3.1.7.2): the bank vouchers issued here by 开具日期, each with the
// arrears it covers; 重新打印 while unpaid, 作废 (confirmed) while open, states in words.

import { endpoints, get, post, postOutcome } from "../api.js";
import { confirm, openDialog } from "../dialog.js";
import { money } from "../format.js";
import { toast, toastError } from "../toast.js";
import { handOver, voucherActions, voucherFacts } from "./payment_pay.js";
import { ListTable, dateParam, el, periodRange, syncOnEntry } from "./payment_common.js";

const box = document.getElementById("payment-vouchers");
const form = document.getElementById("query");
const STATE_CLASS = { open: "warn-text", paid: "ok-text", voided: "muted", expired: "muted" };

function actionCell(v) {
  const wrap = el("span", { className: "row-actions" });
  // perm: what the server asks of the call behind the button (client/core/permissions.py).
  const add = (label, action, data, perm = "payment.view") => {
    const b = el("button", { type: "button", className: "link-button", textContent: label, perm });
    b.dataset.action = data;
    b.addEventListener("click", () => action(v).catch(toastError));
    wrap.append(b);
  };
  add("详情", showDetails, "details");
  if (v.pdf_path && v.state === "open") add("打开凭证", (x) => handOver(x, "open"), "open", "payment.pay");
  if (v.can_print) add("重新打印", reprint, "reprint", "payment.pay");
  if (v.can_void) add("作废", voidVoucher, "void", "payment.void");
  return wrap;
}

const table = new ListTable(document.getElementById("voucher-table"), {
  rowKey: "voucher_id",
  pageSize: Number(box.dataset.pageSize) || 50,
  columns: [
    { key: "voucher_no", label: "凭证号码", className: "nowrap" },
    { key: "issued_on", label: "开具日期", className: "nowrap" },
    { key: "deadline", label: "限缴日期", className: "nowrap" },
    { key: "count", label: "欠费条数", className: "num" },
    { key: "total", label: "缴款合计", className: "num", render: (v) => money(v.total) },
    { key: "printed_count", label: "打印次数", className: "num" },
    { key: "state", label: "状态", className: "nowrap",
      render: (v) => el("span", { className: STATE_CLASS[v.state] || "", textContent: v.state_label }) },
    { key: "actions", label: "操作", className: "nowrap", render: actionCell },
  ],
});

function query() {
  const values = new FormData(form);
  const params = new URLSearchParams();
  const from = dateParam(values.get("date_from"), "开具日期");
  const to = dateParam(values.get("date_to"), "开具日期");
  if (from) params.set("date_from", from);
  if (to) params.set("date_to", to);
  return params;
}

async function reload() {
  let params;
  try {
    params = query();
  } catch (err) {
    toastError(err);
    return;
  }
  try {
    table.setItems((await get(`${endpoints.paymentVouchers}?${params}`)).items);
    await table.load();
  } catch (err) {
    table.error = err;
    table.render();
  }
}

function arrearsTable(v) {
  const head = el("tr", {}, ...["征收项目", "征收品目", "费款所属期", "社保单位编号", "应缴金额", "滞纳金", "合计"]
    .map((h) => el("th", { textContent: h })));
  const rows = (v.body?.arrears || []).map((a) => el("tr", {},
    el("td", { className: "nowrap", textContent: a.item_name }), el("td", { className: "nowrap", textContent: a.part_name }),
    el("td", { className: "nowrap", textContent: periodRange(a.period_from, a.period_to) }),
    el("td", { className: "nowrap", textContent: a.unit_number }),
    el("td", { className: "num", textContent: money(a.amount) }), el("td", { className: "num", textContent: money(a.late_fee) }),
    el("td", { className: "num", textContent: money(a.total) })));
  return el("table", { className: "simple voucher-arrears" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

async function showDetails(v) {
  const body = el("div", { className: "voucher-details" },
    el("p", { textContent: `${v.state_label} · 开具日期 ${v.issued_on} · 限缴日期 ${v.deadline} · 已打印 ${v.printed_count} 次` }),
    arrearsTable(v),
    el("p", { className: "pay-total", textContent: `应缴金额 ${money(v.body?.amount_total)} 元，滞纳金 ${money(v.body?.late_fee_total)} 元，合计 ${money(v.total)} 元` }));
  if (v.pdf_path) body.append(el("p", { className: "muted pdf-path", textContent: `保存位置：${v.pdf_path}` }));
  const opened = openDialog({ title: `缴款凭证 ${v.voucher_no}`, body });
  body.closest("dialog")?.classList.add("pay-dialog");
  await opened;
}

async function reprint(v) {
  const answer = await post(endpoints.paymentVoucherPrint(v.voucher_id), {});
  await reload();
  const body = el("div", {}, el("p", { className: "ok-text", textContent: `缴款凭证 ${answer.voucher.voucher_no} 已重新生成` }),
    voucherFacts(answer.voucher, answer.pdf_path));
  const opened = openDialog({ title: "重新打印缴款凭证", body });
  const dialog = body.closest("dialog");
  dialog?.classList.add("pay-dialog");
  dialog?.querySelector(".dialog-buttons").prepend(...voucherActions(answer.voucher));
  await opened;
}

async function voidVoucher(v) {
  const sure = await confirm(
    `作废缴款凭证 ${v.voucher_no}（${v.count} 条欠费，合计 ${money(v.total)} 元）？作废后该凭证不能再到银行缴款，所列欠费可重新缴款。`,
    { title: "作废缴款凭证", ok: "确定作废", danger: true },
  );
  if (!sure) return;
  const answer = await postOutcome(endpoints.paymentVoucherVoid(v.voucher_id), {});
  toast(answer.message, answer.ok ? "success" : "error", 6000);
  await reload();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  reload();
});
form.addEventListener("reset", () => setTimeout(() => reload(), 0));

reload().then(() => syncOnEntry(endpoints.paymentVouchersSync, "payment_vouchers_sync", {
  box: document.getElementById("sync-progress"), state: document.getElementById("sync-state"), after: reload,
}));
