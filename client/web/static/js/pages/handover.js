// 换机向导: on the old PC settle, back up (verified) and print the 交接单; on the new PC
// compare a 交接单 with the restored data side by side and print the receiving one.
// Settle, backup and compare run as jobs; the page shows their progress and result.

import { endpoints, get, post } from "../api.js";
import { confirm, el } from "../dialog.js";
import { JobProgress } from "../job.js";
import { toast, toastError } from "../toast.js";
import { FileUpload } from "../upload.js";

const $ = (id) => document.getElementById(id);
const when = (iso) => (iso || "").replace("T", " ").slice(0, 19);
const size = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);
let handoverId = null;
let receiptId = null;

function table(headers, rows, classes = []) {
  const head = el("tr", {}, ...headers.map((h) => el("th", { textContent: h })));
  const body = rows.map((r, i) => el("tr", { className: classes[i] || "" }, ...r.map((c) => (c instanceof Node ? el("td", {}, c) : el("td", { textContent: String(c) })))));
  return el("table", { className: "simple" }, el("thead", {}, head), el("tbody", {}, ...body));
}

function showPath(which) {
  $("path-old").hidden = which !== "old";
  $("path-new").hidden = which !== "new";
  $("tab-old").classList.toggle("active", which === "old");
  $("tab-new").classList.toggle("active", which === "new");
}
$("tab-old").addEventListener("click", (e) => { e.preventDefault(); showPath("old"); history.replaceState(null, "", "#old"); });
$("tab-new").addEventListener("click", (e) => { e.preventDefault(); showPath("new"); history.replaceState(null, "", "#new"); });
if (location.hash === "#new") showPath("new");

// -- step 1: settle -----------------------------------------------------------------------------
function openTable(entries) {
  return table(["单位", "申报类型", "状态", "申报时间", "内容", "未办结原因"],
    entries.map((e) => [e.unit_name, e.kind_label, e.state_label, when(e.created_at), e.summary, e.reason]));
}

async function settled(report) {
  const box = $("settle-result");
  box.replaceChildren();
  for (const m of report.messages) box.append(el("p", { textContent: m }));
  if (report.settled.length) {
    box.append(el("h3", { textContent: `本次办结 ${report.settled.length} 笔` }));
    const t = table(["单位", "申报类型", "内容", "原状态", "现状态"], report.settled.map((r) => [r.unit_name, r.kind_label, r.summary, r.before, r.after]));
    t.id = "settled-table";
    box.append(t);
  }
  if (report.done) {
    box.append(el("p", { className: "ok-text", id: "settle-done", textContent: "没有未办结的申报，可以备份。" }));
    $("backup-run").disabled = false;
    return;
  }
  if (report.problem) box.append(el("p", { className: "error-text", id: "settle-problem", textContent: report.problem }));
  box.append(el("p", { className: "error-text", textContent: `还有 ${report.still_open.length} 笔申报未办结：` }));
  const t = openTable(report.still_open);
  t.id = "still-open";
  box.append(t);
  const going = await confirm(`还有 ${report.still_open.length} 笔申报未办结，它们会原样写入交接单（新电脑恢复后继续办理）。仍要继续备份吗？`, { title: "未办结的申报", ok: "继续备份" });
  $("backup-run").disabled = !going;
  box.append(el("p", { className: "muted", textContent: going ? "已确认继续：未办结的申报列在交接单上。" : "可以稍后再点「开始办结」。" }));
}

const settleBar = new JobProgress($("settle-progress"), {
  cancellable: false,
  onDone: (job) => { $("settle-run").disabled = false; $("settle-progress").hidden = true; settled(job.result); },
  onError: (err) => { $("settle-run").disabled = false; toastError(err); },
});
$("settle-run").addEventListener("click", async () => {
  $("settle-run").disabled = true;
  try {
    settleBar.attach((await post(endpoints.handoverSettle, {})).job);
  } catch (err) {
    $("settle-run").disabled = false;
    toastError(err);
  }
});

// -- step 2: backup and verify ------------------------------------------------------------------
function folderProblem(text) {
  // The same rule as the backup page: a full path (D:\备份, /media/u盘) or empty.
  if (!text) return "";
  if (/^[A-Za-z]:[\\/]/.test(text) || text.startsWith("\\\\") || text.startsWith("/") || text.startsWith("~")) return "";
  return "请填写完整的文件夹路径，例如 D:\\备份";
}

const backupBar = new JobProgress($("handover-backup-progress"), {
  cancellable: false,
  onDone: (job) => {
    $("backup-run").disabled = false;
    $("handover-backup-progress").hidden = true;
    const r = job.result;
    handoverId = r.id;
    const b = r.facts.backup;
    const box = el("div", { id: "backup-facts" },
      el("p", { className: "ok-text", textContent: "备份完成，并已校验：" + r.checks.join("；") }),
      table(["项目", "内容"], [
        ["备份文件", r.backup.path], ["大小", size(b.size)], ["备份时间", when(b.created_at)],
        ["SHA-256", b.sha256], ["交接文件", r.json_path],
      ]));
    $("backup-result").replaceChildren(box);
    $("print-run").disabled = false;
  },
  onError: (err) => { $("backup-run").disabled = false; toastError(err); },
});
$("backup-run").addEventListener("click", async () => {
  const folder = $("handover-folder").value.trim();
  const problem = folderProblem(folder);
  $("handover-folder-error").hidden = !problem;
  $("handover-folder-error").textContent = problem;
  if (problem) return;
  $("backup-run").disabled = true;
  try {
    const { job } = await post(endpoints.handoverBackup, { folder, password: $("handover-password").value });
    backupBar.attach(job);
  } catch (err) {
    $("backup-run").disabled = false;
    if (err.field === "folder") {
      $("handover-folder-error").hidden = false;
      $("handover-folder-error").textContent = err.message;
    } else toastError(err);
  }
});

// -- step 3 (both paths): print -----------------------------------------------------------------
async function printSheet(url, id, box) {
  try {
    const r = await post(url, { id });
    $(box).replaceChildren(el("p", { className: r.opened ? "ok-text" : "error-text", textContent: r.message }),
      el("p", { className: "muted", textContent: `文件：${r.pdf_path}` }));
    toast(r.opened ? "交接单已打开" : "交接单已保存", r.opened ? "success" : "info");
  } catch (err) {
    toastError(err);
  }
}
$("print-run").addEventListener("click", () => printSheet(endpoints.handoverPrint, handoverId, "print-result"));
$("receipt-run").addEventListener("click", () => printSheet(endpoints.handoverReceipt, receiptId, "receipt-result"));

// -- new PC: compare ----------------------------------------------------------------------------
function compared(r) {
  receiptId = r.id;
  $("receipt-result").replaceChildren();
  const c = r.comparison;
  const verdict = c.all_same
    ? el("p", { className: "ok-text", id: "compare-verdict", textContent: "全部一致：旧电脑的数据已全部带到这台电脑。" })
    : el("p", { className: "error-text", id: "compare-verdict", textContent: `有 ${c.different} 项不一致，请对照旧电脑核实后再开始办理业务。` });
  // A 64-hex checksum in groups of 16 so the column can wrap; a unit's name once, on its first row.
  const readable = (text) => (/^[0-9a-f]{64}$/.test(text) ? text.match(/.{16}/g).join(" ") : text);
  const cell = (text, same) => el("span", { className: same ? "ok-text" : "error-text", textContent: readable(text) });
  const rows = c.rows.map((row, i) => [i && c.rows[i - 1].unit === row.unit ? "" : row.unit, row.item, readable(row.old),
    cell(row.new, row.same), cell(row.result, row.same)]);
  const t = table(["单位", "项目", "原电脑", "新电脑", "结果"], rows, c.rows.map((row) => (row.same ? "same" : "different")));
  t.id = "compare-table";
  const facts = el("p", { className: "muted", textContent: `原电脑交接单打印于 ${when(r.old.printed_at)}（程序版本 ${r.old.app_version}），本机核对于 ${when(r.new.printed_at)}。` });
  $("compare-result").replaceChildren(verdict, facts, t);
  if (r.old.open_entries.length) {
    $("compare-result").append(el("p", { textContent: `旧电脑交接时未办结的申报 ${r.old.open_entries.length} 笔，请在本机继续办理：` }), openTable(r.old.open_entries));
  }
  $("receipt-run").disabled = false;
}

const compareBar = new JobProgress($("compare-progress"), {
  cancellable: false,
  onDone: (job) => { $("compare-progress").hidden = true; compared(job.result); },
  onError: toastError,
});
new FileUpload($("compare-upload"), {
  endpoint: endpoints.handoverCompare,
  accept: ".json,.pdf",
  label: "选择交接文件",
  onUploaded: ({ job }) => compareBar.attach(job),
  onError: toastError,
});

// -- what this PC holds now ---------------------------------------------------------------------
get(endpoints.handover).then((info) => {
  $("handover-default").textContent = info.folder;
  $("settle-unit").textContent = info.entered
    ? `当前单位：${info.entered}${info.offline ? "（离线）" : ""}；本机未办结的申报 ${info.open} 笔。`
    : `尚未登录单位：只能列出未办结的申报（本机 ${info.open} 笔）。`;
}).catch(toastError);
