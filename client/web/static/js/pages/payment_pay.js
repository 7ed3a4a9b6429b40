// 立即缴款's dialogs: 三方协议 (choose an agreement, confirm the amount, the debit's result per
// arrear) and 银行端缴款凭证 (confirm, issue, open or print the PDF). One click pays once: the
// confirming button is disabled before the request leaves, and the server refuses a second
// entry for arrears already being paid.

import { endpoints, post, postOutcome } from "../api.js";
import { money } from "../format.js";
import { toast, toastError } from "../toast.js";
import { el, showError } from "./payment_common.js";

const RESULT_WORDS = { paid: "缴款成功", failed: "缴款失败", unknown: "结果待确认" };
const RESULT_CLASS = { paid: "ok-text", failed: "error-text", unknown: "warn-text" };

// A dialog whose body and buttons change step by step; closing it runs `onClose` once.
class StepDialog {
  constructor(title, onClose = () => {}) {
    this.dialog = el("dialog", { className: "dialog wide pay-dialog" });
    this.heading = el("h2", { textContent: title });
    this.body = el("div", { className: "dialog-body" });
    this.buttons = el("div", { className: "dialog-buttons" });
    this.dialog.append(this.heading, this.body, this.buttons);
    this.busy = false;
    this.closed = new Promise((resolve) => {
      this.dialog.addEventListener("close", () => {
        this.dialog.remove();
        resolve(onClose());
      });
    });
    // Esc must not hide a dialog whose request is still on its way.
    this.dialog.addEventListener("cancel", (event) => { if (this.busy) event.preventDefault(); });
    document.body.append(this.dialog);
    this.dialog.showModal();
  }

  step(title, content, buttons) {
    this.heading.textContent = title;
    this.body.replaceChildren(content);
    this.buttons.replaceChildren(...buttons);
  }

  button(label, action, { primary = false, disabled = false, id = "" } = {}) {
    const b = el("button", { type: "button", className: `btn${primary ? " primary" : ""}`, textContent: label, disabled });
    if (id) b.id = id;
    b.addEventListener("click", action);
    return b;
  }

  close() {
    this.dialog.close();
  }

  // Runs `request` once: every button is disabled and a bar shows until it answers.
  async run(text, request) {
    if (this.busy) return undefined;
    this.busy = true;
    for (const b of this.buttons.querySelectorAll("button")) b.disabled = true;
    const waiting = el("div", { className: "job-progress pay-running" }, el("progress"), el("span", { textContent: text }));
    this.body.append(waiting);
    try {
      return await request();
    } finally {
      this.busy = false;
      waiting.remove();
    }
  }

  failed(err) {
    showError(this.body, err);
    this.buttons.replaceChildren(this.button("关闭", () => this.close(), { primary: true }));
  }
}

function facts(pairs) {
  return el("dl", { className: "detail-grid pay-facts" },
    ...pairs.flatMap(([k, v, className = ""]) => [el("dt", { textContent: k }), el("dd", { textContent: v, className })]));
}

function totalsFacts(totals, extra = []) {
  return facts([
    ["欠费条数", `${totals.count} 条`],
    ["应缴金额", `${money(totals.amount_total)} 元`],
    ["滞纳金", `${money(totals.late_fee_total)} 元（税务端计算，以实际扣款为准）`],
    ["缴款合计", `${money(totals.total)} 元`, "pay-total"],
    ...extra,
  ]);
}

// -- 三方协议缴款 ------------------------------------------------------------------------------------
function agreementChoice(a, onPick) {
  const radio = el("input", { type: "radio", name: "agreement", value: a.agreement_id, disabled: Boolean(a.warning) });
  radio.addEventListener("change", () => onPick(a));
  const lines = [
    el("strong", { textContent: `${a.bank} ${a.account_masked}` }),
    el("span", { className: "sub", textContent: `户名 ${a.account_name} · 协议号 ${a.agreement_no} · 扣款范围 ${a.scope} · ${a.state}` }),
  ];
  if (a.warning) lines.push(el("span", { className: "sub error-text", textContent: `不可用于缴纳社保费：${a.warning}` }));
  const label = el("label", { className: a.warning ? "agreement-unusable" : "" }, radio, el("span", {}, ...lines));
  label.dataset.agreement = a.agreement_id;
  return el("li", {}, label);
}

function resultTable(debit) {
  const head = el("tr", {}, ...["欠费", "缴款结果", "电子税票号码", "扣款金额（元）", "原因及处理办法"].map((h) => el("th", { textContent: h })));
  const rows = debit.results.map((r) => {
    const reason = { paid: "", unknown: r.advice }[r.status] ?? [r.message, r.advice].filter(Boolean).join("。");
    const tr = el("tr", { className: `result-${r.status}` },
      el("td", { textContent: r.label }),
      el("td", { className: `nowrap ${RESULT_CLASS[r.status] || ""}`, textContent: RESULT_WORDS[r.status] || r.status_label }),
      el("td", { className: "nowrap", textContent: r.tax_ticket || "" }),
      el("td", { className: "num", textContent: r.status === "paid" ? money(r.total) : "" }),
      el("td", { textContent: reason }));
    tr.dataset.arrear = r.arrear_id;
    return tr;
  });
  return el("table", { className: "simple pay-results" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function debitResult(answer) {
  const debit = answer.debit;
  const unsure = (debit && debit.unknown_count) || (!debit && answer.entry?.state !== "rejected");
  const tone = unsure ? "warn-text" : !answer.ok ? "error-text" : debit.failed_count ? "warn-text" : "ok-text";
  const parts = [el("p", { className: `pay-headline ${tone}`, textContent: answer.message })];
  if (answer.debit) {
    parts.push(resultTable(answer.debit));
    if (answer.debit.unknown_count) {
      parts.push(el("p", { className: "warn-text", textContent: "结果待确认的欠费不会重复扣款：客户端自动向税务端查询结果，也可稍后在缴款页面点击「刷新」再次查询。" }));
    }
  } else if (["unknown", "sending", "queued"].includes(answer.entry?.state)) {
    parts.push(el("p", { className: "warn-text", textContent: "结果待确认：客户端自动向税务端确认（不会重复扣款），可稍后点击「刷新」查看。" }));
  }
  return el("div", {}, ...parts);
}

export async function debitDialog(ids, agreements, done) {
  const dialog = new StepDialog("三方协议缴款", done);
  let totals;
  try {
    totals = await post(endpoints.paymentSelection, { arrear_ids: ids });
  } catch (err) {
    dialog.failed(err);
    return dialog.closed;
  }
  let picked = null;
  const usable = agreements.filter((a) => !a.warning);
  const choose = () => {
    const next = dialog.button("下一步", () => confirmStep(), { primary: true, disabled: !picked, id: "agreement-next" });
    const list = el("ul", { className: "choice-list agreements" }, ...agreements.map((a) => agreementChoice(a, (chosen) => {
      picked = chosen;
      next.disabled = false;
    })));
    const lead = usable.length
      ? "请选择扣款的三方协议："
      : "本单位没有可缴纳社保费的三方协议：请到开户银行签订三方协议，或选择银行端缴款凭证缴款。";
    const content = el("div", {}, el("p", { className: usable.length ? "" : "error-text", textContent: lead }), list);
    dialog.step("三方协议缴款：选择协议", content, [dialog.button("取消", () => dialog.close()), next]);
    if (picked) list.querySelector(`input[value="${CSS.escape(picked.agreement_id)}"]`).checked = true;
  };
  const confirmStep = () => {
    const content = el("div", {},
      totalsFacts(totals, [["扣款账户", `${picked.bank} ${picked.account_masked}（协议号 ${picked.agreement_no}）`]]),
      el("p", { className: "warn-text", textContent: "确认后立即从该账户扣款，请核对金额。" }));
    const ok = dialog.button("确认缴款", () => pay(), { primary: true, id: "confirm-debit" });
    dialog.step("三方协议缴款：确认金额", content, [dialog.button("上一步", () => choose()), ok]);
  };
  const pay = async () => {
    try {
      const answer = await dialog.run("正在扣款，请勿关闭窗口…", () => postOutcome(endpoints.paymentDebits, {
        agreement_id: picked.agreement_id, arrear_ids: ids, confirmed_total: totals.total,
      }));
      if (answer === undefined) return;
      dialog.step("缴款结果", debitResult(answer), [dialog.button("关闭", () => dialog.close(), { primary: true, id: "close-result" })]);
    } catch (err) {
      dialog.failed(err);
    }
  };
  choose();
  return dialog.closed;
}

// -- 银行端缴款凭证 ------------------------------------------------------------------------------------
// 打开凭证 / 打印: the PDF saved on this PC goes to the system's PDF viewer or printer (the
// window neither shows nor downloads files); when that fails the message names where it is.
export async function handOver(voucher, action) {
  const answer = await post(endpoints.paymentVoucherOpen(voucher.voucher_id), { action });
  toast(answer.message, answer.opened ? "success" : "error", answer.opened ? 4000 : 10000);
  return answer;
}

export function voucherActions(voucher) {
  const make = (label, action, primary) => {
    const b = el("button", { type: "button", className: `btn${primary ? " primary" : ""}`, textContent: label,
      perm: "payment.pay" });
    b.dataset[action] = voucher.voucher_id;
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await handOver(voucher, action);
      } catch (err) {
        toastError(err);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };
  return [make("打开凭证", "open", false), make("打印", "print", true)];
}

export function voucherFacts(voucher, path) {
  return facts([
    ["凭证号码", voucher.voucher_no],
    ["欠费条数", `${voucher.count} 条`],
    ["缴款合计", `${money(voucher.total)} 元`, "pay-total"],
    ["限缴日期", `${voucher.deadline}（请在此日期前携带凭证到银行缴款）`],
    ["保存位置", path || voucher.pdf_path || "", "pdf-path"],
  ]);
}

export async function voucherDialog(ids, done) {
  const dialog = new StepDialog("开具银行端缴款凭证", done);
  let totals;
  try {
    totals = await post(endpoints.paymentSelection, { arrear_ids: ids });
  } catch (err) {
    dialog.failed(err);
    return dialog.closed;
  }
  const issue = async () => {
    try {
      const answer = await dialog.run("正在开具缴款凭证…", () => postOutcome(endpoints.paymentVouchers, { arrear_ids: ids }));
      if (answer === undefined) return;
      const close = dialog.button("关闭", () => dialog.close());
      if (!answer.voucher) {
        dialog.step("开具结果", el("p", { className: "error-text", textContent: answer.message }), [close]);
        return;
      }
      const content = el("div", {}, el("p", { className: "ok-text", textContent: answer.message }),
        voucherFacts(answer.voucher, answer.pdf_path),
        el("p", { className: "muted", textContent: "未缴款的凭证可在「缴款凭证打印记录」中重新打印或作废。" }));
      dialog.step("缴款凭证已开具", content, [close, ...voucherActions(answer.voucher)]);
    } catch (err) {
      dialog.failed(err);
    }
  };
  const content = el("div", {}, totalsFacts(totals),
    el("p", { className: "warn-text", textContent: "开具后，凭证所列欠费在到银行缴款或作废凭证之前不能再次缴款；凭证在限缴日期后失效。" }));
  dialog.step("开具银行端缴款凭证", content, [dialog.button("取消", () => dialog.close()),
    dialog.button("开具凭证", () => issue(), { primary: true, id: "issue-voucher" })]);
  return dialog.closed;
}
