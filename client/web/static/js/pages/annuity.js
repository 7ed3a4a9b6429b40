// 年金缴款通知单 (山西): the 职业年金 per fee period from the tax side's declared bases and the
// rule pack's rates; preview, then print one PDF (saved, hashed and recorded like a certificate).

import { endpoints } from "../api.js";
import { money } from "../format.js";
import { runJob } from "../job.js";
import { toast, toastError } from "../toast.js";
import { el, monthParam } from "./payment_common.js";
import { pdfToolbar } from "./pdf_actions.js";

const form = document.getElementById("annuity-form");
const area = document.getElementById("annuity-area");
const result = document.getElementById("annuity-result");
const buttons = [document.getElementById("annuity-preview"), document.getElementById("annuity-print")];
const progressBox = document.getElementById("annuity-progress");
let shownFor = null; // the periods the notice and print result on screen belong to

// A notice of other periods must not stay next to a new answer (or a refused print).
function dropStale() {
  if (shownFor === null || shownFor === JSON.stringify(request())) return;
  shownFor = null;
  area.replaceChildren(el("p", { className: "muted", id: "annuity-stale", textContent: "费款所属期已更改，请重新预览。" }));
  result.hidden = true;
  result.replaceChildren();
  delete result.dataset.pdfName;
}

// Both run as a job (a large unit's bases come in pages and its PDF has many pages).
const job = (endpoint) => runJob(progressBox, endpoint, request());

function request() {
  const data = new FormData(form);
  return { period_from: monthParam(data.get("period_from")), period_to: monthParam(data.get("period_to")) };
}

function periodTable(p) {
  const head = el("tr", {}, ...["序号", "姓名", "证件类型", "证件号码", "缴费基数", "单位缴纳", "个人缴纳", "合计"]
    .map((t) => el("th", { textContent: t })));
  const rows = p.rows.map((r, i) => el("tr", {}, el("td", { textContent: String(i + 1) }), el("td", { textContent: r.name }),
    el("td", { textContent: r.id_type_name }), el("td", { textContent: r.id_number }),
    el("td", { className: "num", textContent: money(r.base) }), el("td", { className: "num", textContent: money(r.employer) }),
    el("td", { className: "num", textContent: money(r.employee) }), el("td", { className: "num", textContent: money(r.total) })));
  const total = el("tr", { className: "total-row" }, el("td", { colSpan: 5, textContent: `本期合计（${p.headcount} 人）` }),
    el("td", { className: "num", textContent: money(p.employer_total) }),
    el("td", { className: "num", textContent: money(p.employee_total) }), el("td", { className: "num", textContent: money(p.total) }));
  const empty = p.rows.length ? [] : [el("p", { className: "muted", textContent: "该期税务端没有本单位已申报的养老保险缴费基数。" })];
  if (p.rows_total > p.rows.length) {
    empty.push(el("p", { className: "muted", textContent: `共 ${p.rows_total} 人，此处显示前 ${p.rows.length} 人；打印的通知单包含全部人员。` }));
  }
  return el("div", { className: "annuity-period" }, el("h3", { textContent: `费款所属期 ${p.period}` }), ...empty,
    el("table", { className: "simple" }, el("thead", {}, head), el("tbody", {}, ...rows, total)));
}

function show(notice, asked) {
  shownFor = asked;
  area.replaceChildren(...notice.periods.map(periodTable), el("p", { className: "draft-summary", id: "annuity-total",
    textContent: `应缴职业年金合计 ${money(notice.total)} 元（单位 ${money(notice.employer_total)} 元，个人 ${money(notice.employee_total)} 元）` }));
}

async function run(work) {
  for (const b of buttons) b.disabled = true;
  try {
    await work();
  } catch (err) {
    toastError(err);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

// Nobody owes in the periods: say why instead of a notice of 0 people and 0.00.
function nothing(message, asked) {
  shownFor = asked;
  result.hidden = true;
  area.replaceChildren(el("p", { className: "warn-text", id: "annuity-empty", textContent: message }));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  run(async () => {
    const asked = JSON.stringify(request());
    let data;
    try {
      data = await job(endpoints.annuityPreview);
    } catch (err) {
      dropStale();
      throw err;
    }
    if (data.empty) nothing(data.message, asked);
    else show(data.notice, asked);
  });
});
form.addEventListener("input", () => dropStale());
form.addEventListener("change", () => dropStale());

buttons[1].addEventListener("click", () => run(async () => {
  const asked = JSON.stringify(request());
  let data;
  try {
    data = await job(endpoints.annuityPrint);
  } catch (err) {
    dropStale(); // refused: a notice of other periods does not stay beside the error
    throw err;
  }
  show(data.notice, asked);
  result.replaceChildren(el("p", { className: "ok-text", textContent: "年金缴款通知单已生成" }),
    el("p", { className: "muted pdf-path", textContent: `保存位置：${data.pdf_path}` }),
    el("p", {}, "核验码 ", el("code", { textContent: data.sha256 })),
    pdfToolbar(data.pdf_name));
  result.hidden = false;
  result.dataset.pdfName = data.pdf_name;
  toast("年金缴款通知单已生成", "success");
}));
