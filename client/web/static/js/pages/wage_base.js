// 日常 / 年度缴费工资申报: the draft list with add, import, batch modify, delete, export, submit.

import { download, endpoints, get, post, put } from "../api.js";
import { confirm, el, field, formDialog, openDialog, showError } from "../dialog.js";
import { count, money } from "../format.js";
import { JobProgress } from "../job.js";
import { DataTable } from "../table.js";
import { toast, toastError } from "../toast.js";
import { FileUpload } from "../upload.js";

const box = document.getElementById("wage-base");
const kind = box.dataset.kind;
const daily = kind === "daily";
const open = box.dataset.open === "1";
// [code, name] pairs in the usual order (养老, 医疗, 失业, 工伤, 生育); a JSON object would sort them.
const itemList = JSON.parse(box.dataset.items || "[]");
const perItemBox = document.getElementById("per-item");
const form = document.getElementById("query");
const submitButton = document.getElementById("submit");
const deleteButton = document.getElementById("delete");
const batchButton = document.getElementById("batch");
const exportSelected = document.querySelector('[data-export="selected"]');
let summary = null;

// "202503" <-> "2025-03": typed as text, so the field reads the same on every PC whatever
// its locale (a native month picker shows "April 2025" on one and "2025年04月" on another).
const toInput = (month) => (month && month.length === 6 ? `${month.slice(0, 4)}-${month.slice(4)}` : "");
const monthMin = toInput(box.dataset.monthFrom);
const monthMax = toInput(box.dataset.monthTo);

function monthInput(value = "") {
  return el("input", {
    type: "text", name: "effective_month", value: toInput(value), inputMode: "numeric", maxLength: 7,
    placeholder: `如 ${monthMax || "2025-04"}`, pattern: "\\d{4}-?\\d{2}", className: "month-input",
  });
}

function editLink(row) {
  const button = el("button", { type: "button", className: "link-button", textContent: "修改", perm: "wage_base.edit" });
  button.disabled = !open;
  button.addEventListener("click", () => editRow(row));
  return button;
}

function baseCell(row) {
  const bases = row.item_bases || {};
  const items = itemList.filter(([code]) => bases[code]);
  if (items.length) return items.map(([code, name]) => `${name} ${money(bases[code])}`).join("，");
  return row.new_base ? money(row.new_base) : missing();
}

// Blocks 提交申报 until filled in: shown so it catches the eye.
const missing = () => el("span", { className: "warn-text", textContent: "未填写" });

function warningCell(row) {
  const text = [row.month_problem, row.warning].filter(Boolean).join("；");
  return el("span", { className: text ? "warn-text" : "", textContent: text });
}

function monthCell(row) {
  if (!row.effective_month) return missing();
  return el("span", { className: row.month_problem ? "warn-text" : "", textContent: row.effective_month });
}

// Short columns never wrap: a long 提示 (a tax-side reason) takes the rest of the width.
const columns = [
  { key: "name", label: "姓名", sortable: true, className: "nowrap" },
  { key: "id_type_name", label: "证件类型", className: "nowrap" },
  { key: "id_number", label: "证件号码", sortable: true, className: "nowrap" },
  { key: "unit_number", label: "单位编号", className: "nowrap" },
  { key: "current_base", label: "当前缴费工资", className: "nowrap num", render: (r) => money(r.current_base) },
  { key: "new_base", label: "新缴费工资", sortable: true, render: baseCell, className: "num" },
  ...(daily ? [{ key: "effective_month", label: "生效年月", className: "nowrap", render: monthCell }] : []),
  { key: "warning", label: "提示", render: warningCell },
  { key: "edit", label: "操作", render: editLink, className: "nowrap" },
];

// Paging and sorting leave the draft as it is: only this page's own reloads (after a change
// or a query) ask for the summary, which scans the whole draft.
let wantSummary = true;
const reload = () => {
  wantSummary = true;
  return table.load();
};
const research = () => {
  wantSummary = true;
  return table.search();
};

const table = new DataTable(document.getElementById("rows"), {
  endpoint: endpoints.wageBase(kind),
  columns,
  selectable: true,
  pageSize: Number(box.dataset.pageSize) || 50,
  params: () => ({ ...Object.fromEntries(new FormData(form).entries()), summary: wantSummary ? "" : "0" }),
  onSelect: () => {
    const none = table.selectedCount() === 0;
    for (const b of [deleteButton, batchButton]) b.disabled = !open || none;
    exportSelected.disabled = none;
  },
  onLoad: (data) => {
    if (data.summary) showSummary(data.summary);
    wantSummary = false;
  },
});

const summaryLine = document.getElementById("draft-summary");

function showSummary(s) {
  summary = s;
  const parts = [`共 ${count(s.count)} 人`];
  if (s.missing) parts.push(`${s.missing} 人未填写${daily ? "新缴费工资或生效年月" : "新缴费工资"}`);
  if (s.zero) parts.push(`${s.zero} 人新缴费工资为 0`);
  if (s.warnings) parts.push(`${s.warnings} 人有提示（超出上下限或上次申报失败）`);
  summaryLine.replaceChildren(parts.join("，"));
  if (s.out_of_range) {
    // The business date moved on since these months were typed: the tax side would refuse
    // the whole declaration, so say it here and offer the one fix.
    const fix = el("button", { type: "button", className: "btn small", id: "fix-months", textContent: "调整生效年月", perm: "wage_base.edit" });
    fix.addEventListener("click", fixMonths);
    summaryLine.append(el("span", { className: "warn-text", textContent: `；${s.out_of_range} 人的生效年月不在允许范围（${s.month_range[0]}-${s.month_range[1]}）内 ` }), fix);
  }
  if (perItemBox && s.per_item_rows && !perItemBox.checked) {
    perItemBox.checked = true; // rows declared per item are shown and edited per item
  }
  submitButton.disabled = !open || s.count === 0;
  document.querySelector('[data-export="all"]').disabled = s.count === 0;
}

async function fixMonths() {
  const [first, last] = summary.month_range;
  if (!(await confirm(`将不在 ${first}-${last} 范围内的生效年月调整为最接近的允许月份（早于范围的改为 ${first}，晚于范围的改为 ${last}）？`, { ok: "调整" }))) return false;
  try {
    const result = await post(endpoints.wageBaseFixMonths, {});
    toast(result.message, "success");
    reload();
    return true;
  } catch (err) {
    toastError(err);
    return false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  research();
});
form.addEventListener("reset", () => setTimeout(() => table.search(), 0));
document.getElementById("flagged").addEventListener("change", () => research());

if (!open) {
  document.querySelectorAll("#draft-actions [data-add]").forEach((b) => {
    if (b.dataset.add !== "template") b.disabled = true;
  });
}

// -- single entry and edit ---------------------------------------------------------------------
function baseInputs(row = {}) {
  const perItem = perItemBox?.checked;
  const wrap = el("div");
  const inputs = {};
  if (perItem) {
    for (const [code, name] of itemList) {
      inputs[code] = el("input", { name: `item_${code}`, inputMode: "decimal", value: row.item_bases?.[code] || row.new_base || "" });
      wrap.append(field(`${name}缴费工资（元）`, inputs[code]));
    }
  } else {
    inputs.base = el("input", { name: "new_base", inputMode: "decimal", value: row.new_base || "", placeholder: "如 8000.00" });
    wrap.append(field("新缴费工资（元）", inputs.base));
  }
  const month = daily ? monthInput(row.effective_month) : null;
  if (month) wrap.append(field("生效年月", month, `可选 ${box.dataset.monthFrom} 至 ${box.dataset.monthTo}`));
  const values = () => {
    const body = { effective_month: month ? month.value : "" };
    if (perItem) {
      body.item_bases = Object.fromEntries(itemList.map(([k]) => [k, inputs[k].value]));
    } else {
      body.new_base = inputs.base.value;
    }
    return body;
  };
  return { wrap, values };
}

// What another clerk saved, shown in the edit dialog after a refused save.
function savedLine(row) {
  const bases = row.item_bases || {};
  const items = itemList.filter(([code]) => bases[code]);
  const base = items.length ? items.map(([code, name]) => `${name} ${money(bases[code])}`).join("，") : (row.new_base ? money(row.new_base) : "未填写");
  const month = daily ? `，生效年月 ${row.effective_month || "未填写"}` : "";
  return `其他操作员保存的是：新缴费工资 ${base}${month}。列表已刷新；您填写的内容仍在下方，确认后可再次保存。`;
}

function editRow(row) {
  let loaded = row; // the version this save is based on
  const { wrap, values } = baseInputs(row);
  const theirs = el("p", { className: "warn-text", id: "row-saved-by-other", hidden: true });
  const body = el("div", {}, el("p", { textContent: `${row.name}（${row.id_number}），当前缴费工资 ${row.current_base || "无"}` }), theirs, wrap);
  formDialog(`修改：${row.name}`, body, async () => {
    try {
      await put(endpoints.wageBaseRow(kind, row.id), {
        ...values(), row_version: loaded.row_version, employee_id: loaded.employee_id,
      });
    } catch (err) {
      // Another clerk saved this row (or removed it) since it was loaded: their save stays,
      // the list and this row are reloaded, and the message is shown in the dialog.
      if (err.code === "row_version_conflict" || err.code === "draft_row_not_found") {
        reload();
        if (err.code === "row_version_conflict") {
          loaded = (await get(endpoints.wageBaseRow(kind, row.id))).row;
          theirs.textContent = savedLine(loaded);
          theirs.hidden = false;
        }
      }
      throw err;
    }
    toast("已保存", "success");
    reload();
  }, "保存");
}

function addOne() {
  const query = el("input", { type: "search", placeholder: "输入姓名或证件号码查找", "aria-label": "查找职工" });
  const results = el("div", { className: "pick-list" });
  let chosen = null;
  async function find() {
    const text = query.value.trim();
    results.replaceChildren();
    chosen = null;
    if (!text) return;
    const byId = /^[0-9A-Za-z]+$/.test(text) && /\d/.test(text);
    const params = new URLSearchParams({ size: "10", status: "正常缴费", [byId ? "id_number" : "name"]: text });
    try {
      const data = await get(`${endpoints.enrollment}?${params}`);
      if (!data.rows.length) results.append(el("p", { className: "muted", textContent: "没有找到正常缴费的职工" }));
      for (const e of data.rows) {
        const radio = el("input", { type: "radio", name: "employee", value: e.employee_id });
        radio.addEventListener("change", () => {
          chosen = e;
          body.querySelector(".field-error")?.remove(); // the "请先…选择" hint no longer applies
        });
        results.append(el("label", { className: "pick" }, radio, ` ${e.name}　${e.id_number}　${e.unit_number}　当前 ${e.base}`));
      }
    } catch (err) {
      toastError(err);
    }
  }
  const findButton = el("button", { type: "button", className: "btn", textContent: "查找" });
  findButton.addEventListener("click", find);
  query.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      find();
    }
  });
  const { wrap, values } = baseInputs();
  const body = el("div", {}, el("div", { className: "toolbar" }, query, findButton), results, wrap);
  formDialog("单个录入职工", body, async () => {
    if (!chosen) throw new Error("请先查找并选择一名职工");
    await post(endpoints.wageBaseRows(kind), { employee_id: chosen.employee_id, ...values() });
    toast(`已添加 ${chosen.name}`, "success");
    reload();
  }, "添加");
  query.focus();
}

// -- import ------------------------------------------------------------------------------------
const importBox = document.getElementById("import-result");

function showImport(result) {
  importBox.hidden = false;
  importBox.replaceChildren(el("p", { className: result.bad_rows ? "warn" : "hint", textContent: result.message }));
  if (result.problems.length) {
    const tableNode = el("table", { className: "simple problems" });
    tableNode.innerHTML = "<thead><tr><th>行号</th><th>列</th><th>内容</th><th>问题</th><th>类型</th></tr></thead>";
    const tbody = el("tbody");
    for (const p of result.problems) {
      const tr = el("tr", { className: p.severity === "error" ? "bad" : "warned" });
      for (const v of [p.row, p.column, p.value, p.message, p.severity === "error" ? "错误（未导入）" : "提示（已导入）"]) {
        tr.append(el("td", { textContent: String(v ?? "") }));
      }
      tbody.append(tr);
    }
    tableNode.append(tbody);
    const shown = result.problem_count > result.problems.length ? `仅显示前 ${result.problems.length} 条，共 ${result.problem_count} 条。` : "";
    const more = result.bad_rows
      ? `${shown}有错误的行未导入：请下载错误报告，按「错误原因」修改后重新导入并选择「合并」，已导入的行会保留。`
      : shown;
    const report = el("button", { type: "button", className: "btn", textContent: "下载错误报告", id: "download-report" });
    report.addEventListener("click", () => saveFile(endpoints.wageBaseImportReport(kind)));
    const close = el("button", { type: "button", className: "btn", textContent: "关闭" });
    close.addEventListener("click", () => (importBox.hidden = true));
    importBox.append(el("div", { className: "toolbar" }, report, close, el("span", { className: "muted", textContent: more })), tableNode);
  }
}

// Over a non-empty list the operator chooses: 合并 (by employee; other rows stay) or 覆盖.
const modeHelp = "合并：文件中的职工按证件号码更新或添加，列表中的其他行保留（重新导入修改后的错误报告时请选合并）。\n覆盖：清空列表后只保留文件中的行。\n导入前自动备份。";

async function chooseMode(heading) {
  const body = el("p", { className: "pre-line", textContent: `${heading}\n${modeHelp}` });
  return openDialog({
    title: "导入外部文件",
    body,
    buttons: [
      { label: "取消", value: "" },
      { label: "覆盖", value: "replace", danger: true },
      { label: "合并", value: "merge", primary: true },
    ],
  });
}

async function importFile() {
  let mode = "";
  if (summary && summary.count > 0) {
    mode = await chooseMode(`申报列表中已有 ${summary.count} 条数据。`);
    if (!mode) return;
  }
  const holder = el("div");
  const note = el("p", { className: "muted", textContent: "支持 xlsx、xls、csv 文件，按表头识别「姓名、证件类型、证件号码、新缴费工资" + (daily ? "、生效年月" : "") + "」列。" });
  const dialog = formDialog("导入外部文件", el("div", {}, note, holder), async () => true, "关闭");
  let lastFile = null;
  const uploader = new FileUpload(holder, {
    endpoint: endpoints.wageBaseImport(kind),
    accept: ".xlsx,.xls,.xlsm,.csv",
    fields: () => ({ mode }),
    onUploaded: (result) => {
      dialog.close();
      showImport(result);
      toast(result.message, result.bad_rows ? "info" : "success");
      research();
    },
    onError: async (err) => {
      // The list filled up since this page last looked (e.g. 复制回申报列表): ask, then send again.
      if (err.code === "draft_not_empty" && !mode && lastFile) {
        // The server's message says how many rows the list holds now.
        mode = (await chooseMode(err.message.split("。")[0] + "。")) || "";
        if (mode) uploader.upload(lastFile);
        else dialog.close();
        return;
      }
      showError(holder, err);
    },
  });
  const upload = uploader.upload.bind(uploader);
  uploader.upload = (file) => {
    lastFile = file;
    return upload(file);
  };
}

// -- files ---------------------------------------------------------------------------------------
async function saveFile(url, json = {}) {
  try {
    const name = await download(url, json);
    toast(`已下载 ${name}`, "success");
  } catch (err) {
    toastError(err);
  }
}

document.getElementById("download-insured").addEventListener("click", () => saveFile(endpoints.wageBaseInsured(kind)));
document.querySelectorAll("[data-export]").forEach((b) =>
  b.addEventListener("click", () => {
    b.closest("details").open = false;
    saveFile(endpoints.wageBaseExport(kind), b.dataset.export === "selected" ? table.selection() : {});
  }),
);

async function addMany(body) {
  try {
    const result = await post(endpoints.wageBaseAdd(kind), body);
    toast(result.message, "success");
    reload();
  } catch (err) {
    toastError(err);
  }
}

function addByUnitNumber() {
  const select = el("select", { name: "unit_number" });
  select.innerHTML = document.getElementById("unit-numbers").innerHTML;
  formDialog("按单位编号添加职工", field("单位编号", select), async () => {
    const result = await post(endpoints.wageBaseAdd(kind), { mode: "unit_number", unit_number: select.value });
    toast(result.message, "success");
    reload();
  }, "添加");
}

const addActions = {
  one: addOne,
  import: importFile,
  template: () => saveFile(endpoints.wageBaseTemplate(kind)),
  normal: () => addMany({ mode: "normal" }),
  unit_number: addByUnitNumber,
};
// The drop-down menus close on a click elsewhere, and only one is open at a time.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
document.querySelectorAll("[data-add]").forEach((b) =>
  b.addEventListener("click", () => {
    b.closest("details").open = false;
    addActions[b.dataset.add]();
  }),
);

// -- delete and batch modify ----------------------------------------------------------------------
deleteButton.addEventListener("click", async () => {
  const count = table.selectedCount();
  if (!(await confirm(`确定删除选中的 ${count} 行吗？`, { ok: "删除", danger: true }))) return;
  try {
    const result = await post(endpoints.wageBaseDelete(kind), table.selection());
    toast(result.message, "success");
    table.clearSelection();
    reload();
  } catch (err) {
    toastError(err);
  }
});

batchButton.addEventListener("click", () => {
  const selection = table.selection();
  const month = daily ? monthInput() : null;
  const mode = el("select", { name: "mode" });
  mode.innerHTML = '<option value="">不修改缴费工资</option><option value="ratio">按比率调整</option><option value="amount">按固定金额设置</option>';
  const ratio = el("input", { name: "ratio_percent", inputMode: "decimal", placeholder: "如 5 表示上调 5%，-3 表示下调 3%" });
  const basis = el("select", { name: "basis" });
  basis.innerHTML = '<option value="current">以当前缴费工资为基数</option><option value="new">以已填写的新缴费工资为基数</option>';
  const amount = el("input", { name: "amount", inputMode: "decimal", placeholder: "如 8000.00" });
  const ratioFields = el("div", {}, field("调整比率（%）", ratio), field("调整基数", basis));
  const amountFields = field("新缴费工资（元）", amount);
  const sync = () => {
    ratioFields.hidden = mode.value !== "ratio";
    amountFields.hidden = mode.value !== "amount";
  };
  mode.addEventListener("change", sync);
  sync();
  const body = el("div", {}, el("p", { textContent: `将修改选中的 ${table.selectedCount()} 行。` }),
    ...(month ? [field("生效年月", month, "留空表示不修改")] : []), field("新缴费工资", mode), ratioFields, amountFields);
  formDialog("批量修改", body, async () => {
    const result = await post(endpoints.wageBaseBatch(kind), {
      ...selection,
      effective_month: month ? month.value : "",
      ratio_percent: mode.value === "ratio" ? ratio.value : "",
      basis: basis.value,
      amount: mode.value === "amount" ? amount.value : "",
    });
    toast(result.message, "success");
    reload();
  });
});

// -- submit --------------------------------------------------------------------------------------------
const sendBox = document.getElementById("send-progress");
const sending = new JobProgress(sendBox, {
  cancellable: false,
  onDone: (job) => {
    sendBox.hidden = true;
    toast(`${job.result.message}。请到「申报记录」获取反馈。`, "success", 6000);
  },
  onError: (err) => {
    sendBox.hidden = true;
    toastError(err);
  },
});

async function submitDraft(confirmed = false) {
  submitButton.disabled = true;
  try {
    const result = await post(endpoints.wageBaseSubmit(kind), { confirmed });
    toast(result.message, "success", 6000);
    if (result.job) sending.attach(result.job);
    research();
  } catch (err) {
    if (err.code === "confirm_submit" && !confirmed) {
      if (await confirm(err.message, { ok: "确定提交" })) return submitDraft(true);
    } else if (err.code === "months_out_of_range") {
      const answer = await openDialog({
        title: "生效年月不在允许范围内",
        body: err.message,
        buttons: [{ label: "取消", value: false }, { label: "调整生效年月", value: true, primary: true }],
      });
      if (answer) await fixMonths();
    } else {
      toastError(err);
    }
    submitButton.disabled = false;
  }
}
submitButton.addEventListener("click", () => submitDraft(false));

// The switch is remembered per unit kind on this PC; rows already per item keep it on.
const perItemKey = `wage-base-per-item-${kind}`;
if (perItemBox) perItemBox.checked = localStorage.getItem(perItemKey) === "1";
perItemBox?.addEventListener("change", async () => {
  if (!perItemBox.checked && summary?.per_item_rows) {
    const ok = await confirm(`有 ${summary.per_item_rows} 行已按险种填写缴费工资。切换为统一缴费工资后，这些行将以养老保险缴费工资作为新缴费工资。确定切换吗？`, { ok: "切换" });
    if (!ok) {
      perItemBox.checked = true;
      return;
    }
    try {
      const result = await post(endpoints.wageBaseCollapseItems(kind), {});
      toast(result.message, "success");
      reload();
    } catch (err) {
      perItemBox.checked = true;
      toastError(err);
      return;
    }
  }
  localStorage.setItem(perItemKey, perItemBox.checked ? "1" : "0");
  toast(perItemBox.checked ? "已切换为按险种申报：修改时可分别填写各险种缴费工资" : "已切换为统一缴费工资");
});

const flash = sessionStorage.getItem("wage-base-flash");
if (flash) {
  sessionStorage.removeItem("wage-base-flash");
  toast(flash, "success", 6000);
}
reload();
sending.reattach("outbox").catch(() => {});
