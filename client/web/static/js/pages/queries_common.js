// Shared by the 查询统计 pages: the line that says when the local data was last updated,
// an update from the tax side as a background job (on entry, 更新, or 查询 with a range),
// and the GET exports. Every page shows local data at once and again when the job ends.

import { get, post } from "../api.js";
import { JobProgress } from "../job.js";
import { toast, toastError } from "../toast.js";
import { downloadGet, el } from "./payment_common.js";

export { ListTable, downloadGet, monthParam, periodRange } from "./payment_common.js";

const page = document.getElementById("queries-page");
const stateLine = document.getElementById("sync-state");
const progressBox = document.getElementById("sync-progress");
export const query = page.dataset.query;

export function showState(state, note = "") {
  const when = state && state.synced_at ? `上次从税务端更新：${state.synced_at}` : "尚未从税务端更新";
  stateLine.textContent = note ? `${note}（${when}）` : when;
  stateLine.classList.toggle("error-text", Boolean(note) && !note.startsWith("离线"));
}

// Start the update and call `after()` when it ends, well or not (the page then re-reads
// its local rows); the state line says what happened.
export async function syncFromTaxSide(body, after, buttons = [], { onEntry = false } = {}) {
  if (onEntry && page.dataset.offline === "1") {
    // Opened offline: no update is tried (it would only be refused); the local rows show.
    showState(await after(), "离线模式：暂时无法连接税务端，以下为本机数据");
    return;
  }
  buttons.forEach((b) => (b.disabled = true));
  const finish = async (note) => {
    progressBox.hidden = true;
    buttons.forEach((b) => (b.disabled = false));
    const state = await after();
    showState(state, note);
  };
  const progress = new JobProgress(progressBox, {
    cancellable: false,
    onDone: (job) => finish("").then(() => {
      stateLine.dataset.result = job.result.message || "";
    }),
    onError: (err) => finish(`未能从税务端更新：${err.message}，以下为本机数据`),
  });
  try {
    progress.attach((await post(`/api/queries/${query}/sync`, body)).job);
  } catch (err) {
    if (err.code === "job_running" && (await progress.reattach(page.dataset.jobKind))) return;
    await finish(err.code === "offline" ? "离线模式：暂时无法连接税务端，以下为本机数据"
      : `未能从税务端更新：${err.message}，以下为本机数据`);
  }
}

// The empty table's words when nothing was ever downloaded here (not "没有符合条件的…").
export function neverDownloaded(what, how = "点击【更新】") {
  return `本机还没有从税务端下载过${what}。联网后进入本页会自动下载，也可${how}。`;
}

// A long name (社保经办机构, 主管税务机关) on one line, cut with … and shown whole on hover.
export const clipped = (key) => (r) => el("span", { className: "cell-clip", title: r[key] || "", textContent: r[key] || "" });

// Only the filters that are filled in, as a query string.
export function queryString(values) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) params.set(k, v);
  const text = params.toString();
  return text ? `?${text}` : "";
}

// Read one page's rows from this PC into a ListTable: `keyOf` gives each row its key,
// `shown(data)` writes the summary line; `never` is the empty text while nothing was ever
// downloaded. Returns the sync state (null when the read failed).
export async function loadList(table, exportButton, url, { keyOf = null, shown = () => {}, never = "" } = {}) {
  try {
    const data = await get(url);
    table.matchText ??= table.emptyText;
    table.emptyText = never && !data.state?.synced_at ? never : table.matchText;
    table.setItems(keyOf ? data.items.map((r) => ({ ...r, key: keyOf(r) })) : data.items);
    await table.load(1);
    exportButton.disabled = data.count === 0;
    shown(data);
    return data.state;
  } catch (err) {
    exportButton.disabled = true;
    table.error = err;
    table.render();
    return null;
  }
}

// 导出: the GET export of what is shown (`url()` at click time), named in a toast.
export function bindExport(button, url, table) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      toast(`已导出：${await downloadGet(url())}`, "success");
    } catch (err) {
      toastError(err);
    } finally {
      button.disabled = table.total === 0;
    }
  });
}

// 重置 clears the form first (the reset event comes before it), then shows the local rows.
export function bindReset(form, reload) {
  form.addEventListener("reset", () => setTimeout(() => reload().then((state) => showState(state)), 0));
}

// 查询 with filters read by `filters()` (an Error names the bad field), then `run(values)`.
export function bindQuery(form, filters, run) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let values;
    try {
      values = filters();
    } catch (err) {
      toastError(err);
      return;
    }
    run(values);
  });
}
