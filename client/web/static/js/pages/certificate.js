// 职工缴费证明 (manual 3.1.7): find employees in the local enrollment data, choose a range,
// preview what the tax side holds, print one PDF (a page or pages per employee) or export
// xlsx; 核验 says whether this client printed a certificate with a given SHA-256.

import { download, endpoints, get, post } from "../api.js";
import { dateTime, money } from "../format.js";
import { runJob } from "../job.js";
import { toast, toastError } from "../toast.js";
import { el, monthParam } from "./payment_common.js";
import { pdfToolbar } from "./pdf_actions.js";

const box = document.getElementById("certificate");
const maxPersons = Number(box.dataset.maxPersons) || 50;
const searchForm = document.getElementById("search");
const rangeForm = document.getElementById("range");
const found = document.getElementById("found");
const chosenBox = document.getElementById("chosen");
const buttons = ["preview", "print", "export"].map((id) => document.getElementById(id));
const result = document.getElementById("print-result");
const previewArea = document.getElementById("preview-area");
const chosen = new Map(); // employee_id -> {name, id_number}
const progressBox = document.getElementById("print-progress");
let shownFor = null; // the request the preview and print result on screen belong to

// A preview or print of other employees or periods must not stay next to a new answer.
function dropStale() {
  if (shownFor === null || shownFor === JSON.stringify(request())) return;
  shownFor = null;
  previewArea.replaceChildren(el("p", { className: "muted", id: "preview-stale", textContent: "所选职工或费款所属期已更改，请重新预览。" }));
  result.hidden = true;
  result.replaceChildren();
  delete result.dataset.pdfName;
}

function renderChosen() {
  chosenBox.replaceChildren();
  if (!chosen.size) chosenBox.textContent = "（未选择）";
  for (const [id, e] of chosen) {
    const remove = el("button", { type: "button", className: "link-button", textContent: "移除" });
    remove.dataset.remove = id;
    remove.addEventListener("click", () => { chosen.delete(id); renderChosen(); });
    chosenBox.append(el("span", { className: "chosen-person" }, `${e.name}（${e.id_number}）`, remove), " ");
  }
  for (const b of buttons) b.disabled = chosen.size === 0;
  dropStale();
}

async function search(event) {
  event.preventDefault();
  const q = String(new FormData(searchForm).get("q") || "").trim();
  const state = document.getElementById("search-state");
  if (!q) {
    state.textContent = "请输入姓名或证件号码";
    return;
  }
  try {
    // This page's own search: a role with only 职工缴费证明 may not read 职工参保信息.
    const data = await get(`${endpoints.certificateEmployees}?q=${encodeURIComponent(q)}`);
    const body = found.tBodies[0];
    body.replaceChildren();
    for (const e of data.rows) {
      const pick = el("button", { type: "button", className: "btn", textContent: chosen.has(e.employee_id) ? "已选" : "选择" });
      pick.dataset.pick = e.id_number;
      pick.addEventListener("click", () => {
        if (!chosen.has(e.employee_id) && chosen.size >= maxPersons) {
          toast(`一次最多选择 ${maxPersons} 名职工`, "error");
          return;
        }
        chosen.set(e.employee_id, { name: e.name, id_number: e.id_number });
        pick.textContent = "已选";
        renderChosen();
      });
      body.append(el("tr", {}, el("td", { textContent: e.name }), el("td", { textContent: e.id_type }),
        el("td", { textContent: e.id_number }), el("td", { textContent: e.status }), el("td", {}, pick)));
    }
    found.hidden = data.rows.length === 0;
    state.textContent = data.total ? `找到 ${data.total} 名职工${data.total > data.size ? `，显示前 ${data.size} 名` : ""}` : "本地职工参保信息中没有匹配的职工（可先在「职工参保信息」中更新）";
  } catch (err) {
    toastError(err);
  }
}

function request() {
  const form = new FormData(rangeForm);
  return {
    employee_ids: [...chosen.keys()],
    period_from: monthParam(form.get("period_from")),
    period_to: monthParam(form.get("period_to")),
  };
}

function personTable(p) {
  const head = el("tr", {}, ...["费款所属期", "险种", "类型", "缴费基数", "单位缴费", "个人缴费", "合计", "缴费状态"]
    .map((t) => el("th", { textContent: t })));
  const rows = p.rows.map((r) => el("tr", {},
    el("td", { className: "nowrap", textContent: r.period }), el("td", { textContent: r.item_name }),
    el("td", { textContent: r.kind_label }), el("td", { className: "num", textContent: money(r.base) }),
    el("td", { className: "num", textContent: r.employer === null ? "—" : money(r.employer) }),
    el("td", { className: "num", textContent: r.employee === null ? "—" : money(r.employee) }),
    el("td", { className: "num", textContent: money(r.total) }),
    el("td", { className: `nowrap ${r.state === "paid" ? "ok-text" : "warn-text"}`, textContent: `${r.state_label}${r.paid_on ? ` ${r.paid_on}` : ""}` })));
  const total = el("tr", { className: "total-row" }, el("td", { colSpan: 4, textContent: `合计（${p.count} 条，${p.months} 个月）` }),
    el("td", { className: "num", textContent: money(p.employer_total) }),
    el("td", { className: "num", textContent: money(p.employee_total) }),
    el("td", { className: "num", textContent: money(p.total) }), el("td"));
  const table = el("table", { className: "simple" }, el("thead", {}, head), el("tbody", {}, ...rows, total));
  const title = el("h3", { textContent: `${p.name}　${p.id_type_name} ${p.id_number}　费款所属期 ${p.period_from} 至 ${p.period_to}` });
  const empty = p.rows.length ? [] : [el("p", { className: "muted", textContent: "该期间税务端没有该职工在本单位已申报的缴费记录。" })];
  return el("div", { className: "cert-person" }, title, ...empty, table);
}

async function run(button, work) {
  for (const b of buttons) b.disabled = true;
  try {
    await work();
  } catch (err) {
    toastError(err);
  } finally {
    for (const b of buttons) b.disabled = chosen.size === 0;
    button.blur();
  }
}

rangeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  run(buttons[0], async () => {
    const asked = JSON.stringify(request());
    try {
      const data = await post(endpoints.certificatePreview, request());
      previewArea.replaceChildren(...data.persons.map(personTable));
      shownFor = asked;
    } catch (err) {
      dropStale();
      throw err;
    }
  });
});
rangeForm.addEventListener("input", () => dropStale());
rangeForm.addEventListener("change", () => dropStale());

// Printing runs as a job (many employees over many years are thousands of rows).
const printJob = () => runJob(progressBox, endpoints.certificatePrint, request());

buttons[1].addEventListener("click", () => run(buttons[1], async () => {
  const asked = JSON.stringify(request());
  let data;
  try {
    data = await printJob();
  } catch (err) {
    dropStale(); // refused: a table of other employees or periods does not stay beside the error
    throw err;
  }
  const list = el("ul", { className: "cert-hashes" }, ...data.certificates.map((c) =>
    el("li", {}, `${c.name}（${c.id_number}）：${c.rows} 条，合计 ${money(c.total)} 元，核验码 `,
      el("code", { textContent: c.sha256 }))));
  result.replaceChildren(el("p", { className: "ok-text", textContent: `缴费证明已生成（${data.printed_at}）` }),
    el("p", { className: "muted pdf-path", textContent: `保存位置：${data.pdf_path}` }), list,
    pdfToolbar(data.pdf_name));
  result.hidden = false;
  result.dataset.pdfName = data.pdf_name;
  if (shownFor !== asked) previewArea.replaceChildren();
  shownFor = asked;
  toast("缴费证明已生成", "success");
  loadRecords();
}));

buttons[2].addEventListener("click", () => run(buttons[2], async () => {
  toast(`已导出：${await download(endpoints.certificateExport, request())}`, "success");
}));

document.getElementById("verify").addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = document.getElementById("verify-result");
  try {
    const data = await post(endpoints.certificateVerify, { text: new FormData(event.target).get("text") });
    out.className = data.found ? "ok-text" : "error-text";
    out.textContent = `${data.found ? "核验通过" : "未找到"}：${data.message}`;
  } catch (err) {
    out.className = "error-text";
    out.textContent = err.message;
  }
});

// 打开 a saved print again (the system's PDF viewer); the record stays even when the file is gone.
function openButton(record) {
  const b = el("button", { type: "button", className: "link-button", textContent: "打开" });
  b.dataset.open = record.pdf_name;
  b.addEventListener("click", async () => {
    try {
      const answer = await post(endpoints.certificateOpen(record.pdf_name), { action: "open" });
      toast(answer.message, answer.opened ? "success" : "error", answer.opened ? 4000 : 10000);
    } catch (err) {
      toastError(err);
    }
  });
  return b;
}

async function loadRecords() {
  try {
    const data = await get(endpoints.certificateRecords);
    const body = document.querySelector("#records tbody");
    if (!data.items.length) { // an empty table says nothing to a new clerk
      body.replaceChildren(el("tr", { id: "records-empty" }, el("td", {
        colSpan: 9, className: "muted", textContent: "本机还没有打印过缴费证明或年金缴款通知单。打印后，记录和核验码会列在这里。" })));
      return;
    }
    body.replaceChildren(...data.items.map((r) => el("tr", {},
      el("td", { className: "nowrap", textContent: dateTime(r.printed_at) }), el("td", { textContent: r.name }),
      el("td", { textContent: r.id_number }), el("td", { className: "nowrap", textContent: `${r.period_from}-${r.period_to}` }),
      el("td", { className: "num", textContent: String(r.rows) }), el("td", { className: "num", textContent: money(r.total) }),
      el("td", { textContent: r.operator }), el("td", {}, el("code", { title: r.sha256, textContent: `${r.sha256.slice(0, 16)}…` })),
      el("td", {}, openButton(r)))));
  } catch (err) {
    toastError(err);
  }
}

searchForm.addEventListener("submit", search);
renderChosen();
loadRecords();
