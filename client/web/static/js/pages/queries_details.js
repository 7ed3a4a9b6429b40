// 社保费申报明细查询 (manual 3.1.8.3): the downloaded details on entry; 查询 with a 费款所属期
// range first downloads that range from the tax side (a job), then filters; 导出 writes the
// filtered rows to xlsx in a job and downloads the file when it is ready.

import { get, post } from "../api.js";
import { JobProgress } from "../job.js";
import { DataTable } from "../table.js";
import { count, dateTime, money, period } from "../format.js";
import { toast, toastError } from "../toast.js";
import { downloadGet, el, monthParam } from "./payment_common.js";

const URLS = {
  list: "/api/queries/details",
  options: "/api/queries/details/options",
  sync: "/api/queries/details/sync",
  exportStart: "/api/queries/details/export",
  exportFile: (id) => `/api/queries/details/export/${encodeURIComponent(id)}`,
};

const form = document.getElementById("query");
const panel = document.getElementById("details-panel");
const exportButton = document.getElementById("export");
const queryButton = document.getElementById("query-button");
const totalsLine = document.getElementById("totals");
const rangesLine = document.getElementById("local-ranges");

// The filter as the API takes it: months typed as 2025-03 or 202503 become 202503.
function filter() {
  const values = Object.fromEntries(new FormData(form).entries());
  values.period_from = monthParam(values.period_from);
  values.period_to = monthParam(values.period_to);
  return values;
}

let current = {};
const table = new DataTable(document.getElementById("detail-table"), {
  endpoint: URLS.list,
  rowKey: "key",
  pageSize: Number(panel.dataset.pageSize) || 50,
  columns: [
    { key: "period", label: "费款所属期", className: "nowrap", render: (r) => period(r.period) },
    { key: "unit_number", label: "单位编号", className: "nowrap" },
    { key: "agency", label: "社保经办机构", // one line, whole on hover (four lines at 1280 px otherwise)
      render: (r) => el("span", { className: "cell-clip", title: r.agency || "", textContent: r.agency || "" }) },
    { key: "item_name", label: "征收项目", className: "nowrap" },
    { key: "part_name", label: "征收品目", className: "nowrap" },
    { key: "subitem", label: "征收子目" },
    { key: "id_type_name", label: "证件类型", className: "nowrap" },
    { key: "id_number", label: "证件号码", className: "nowrap" },
    { key: "name", label: "姓名", className: "nowrap" },
    { key: "base", label: "缴费基数", className: "num nowrap", render: (r) => money(r.base) },
    { key: "rate", label: "费率", className: "num" },
    { key: "employer_amount", label: "单位缴纳金额", className: "num nowrap", render: (r) => money(r.employer_amount) },
    { key: "employee_amount", label: "个人缴纳金额", className: "num nowrap", render: (r) => money(r.employee_amount) },
  ],
  params: () => current,
  onLoad: (data) => {
    const t = data.totals;
    exportButton.disabled = t.rows === 0;
    if (t.capped) {
      totalsLine.textContent = `符合条件的明细超过 ${t.rows.toLocaleString("zh-CN")} 条（请增加查询条件以显示合计）`;
    } else {
      totalsLine.textContent = `共 ${count(t.rows)} 条；单位缴纳合计 ${money(t.employer)} 元；个人缴纳合计 ${money(t.employee)} 元`;
    }
  },
});

function fillSelect(name, choices) {
  const select = form.querySelector(`select[name="${name}"]`); // elements.item is a method
  const keep = select.value;
  select.replaceChildren(select.options[0]);
  for (const c of choices) select.append(new Option(c.label, c.value));
  select.value = keep;
}

async function loadOptions() {
  const data = await get(URLS.options);
  for (const [name, choices] of Object.entries(data.options)) fillSelect(name, choices);
  rangesLine.textContent = data.ranges.length
    ? "本机已下载：" + data.ranges.map((r) => `${period(r.period_from)}至${period(r.period_to)}${r.complete ? "" : "（未完成，再次查询将继续下载）"}，${dateTime(r.updated_at)} 更新`).join("；")
    : "本机还没有下载申报明细：填写费款所属期范围后点击【查询】从税务端下载。";
}

async function search() {
  try {
    current = filter();
  } catch (err) {
    toastError(err);
    return;
  }
  await table.search();
}

// 查询 with a range: download it (in the background), then show; without: local rows only.
const syncBox = document.getElementById("sync-progress");
const syncProgress = new JobProgress(syncBox, {
  onDone: async (job) => {
    syncBox.hidden = true;
    queryButton.disabled = false;
    toast(job.result.message, "success");
    await loadOptions();
    await table.load(1);
  },
  onError: (err) => {
    syncBox.hidden = true;
    queryButton.disabled = false;
    toastError(err);
    table.load(1);
  },
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  await search();
  if (!current.period_from || !current.period_to) return;
  queryButton.disabled = true;
  try {
    const { job } = await post(URLS.sync, { period_from: current.period_from, period_to: current.period_to });
    syncProgress.attach(job);
  } catch (err) {
    queryButton.disabled = false;
    toastError(err); // offline: the local rows are still shown
  }
});
form.addEventListener("reset", () => setTimeout(search, 0));

// 导出: the rows of the current filter, written by a job, then downloaded.
const exportBox = document.getElementById("export-progress");
const exportProgress = new JobProgress(exportBox, {
  onDone: async (job) => {
    exportBox.hidden = true;
    exportButton.disabled = false;
    try {
      const name = await downloadGet(URLS.exportFile(job.id));
      toast(`${job.result.message}：${name}`, "success");
    } catch (err) {
      toastError(err);
    }
  },
  onError: (err) => {
    exportBox.hidden = true;
    exportButton.disabled = false;
    toastError(err);
  },
});
exportButton.addEventListener("click", async () => {
  exportButton.disabled = true;
  try {
    const { job } = await post(URLS.exportStart, table.filter);
    exportProgress.attach(job);
  } catch (err) {
    exportButton.disabled = false;
    toastError(err);
  }
});

loadOptions().catch(toastError);
syncProgress.reattach("query_details_sync").then((job) => {
  if (job) queryButton.disabled = true;
});
table.load(1);
