// Shared by the 费款缴纳 pages: a table paged on this page over a list the server sends
// whole, exact sums of decimal strings, a GET download, and how states and periods read.

import { post, request } from "../api.js";
import { money } from "../format.js";
import { JobProgress } from "../job.js";
import { DataTable } from "../table.js";

export { el, field, formDialog, showError } from "../dialog.js";
export { periodRange } from "./fee_common.js";

// Exact sums of decimal strings ("153600.00"): no float ever touches an amount.
export function cents(text) {
  const [whole, frac = ""] = String(text || "0").split(".");
  const sign = whole.startsWith("-") ? -1n : 1n;
  return sign * (BigInt(whole.replace("-", "") || "0") * 100n + BigInt((frac + "00").slice(0, 2)));
}

export function yuan(total) {
  const sign = total < 0n ? "-" : "";
  const abs = total < 0n ? -total : total;
  return money(`${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`);
}

export const sum = (rows, key) => rows.reduce((acc, r) => acc + cents(r[key]), 0n);

// "2025-03" or "202503" (typed like every other month field) -> "202503"; "" when empty.
export function monthParam(typed) {
  const text = (typed || "").trim();
  if (!text) return "";
  const match = /^(\d{4})-?(\d{2})$/.exec(text);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 12) throw new Error("费款所属期格式应为 YYYY-MM（如 2025-03）");
  return `${match[1]}${match[2]}`;
}

export function dateParam(typed, label) {
  const text = (typed || "").trim();
  if (text && !/^\d{4}-\d{2}-\d{2}$/.test(text)) throw new Error(`${label}格式应为 YYYY-MM-DD（如 2025-03-01）`);
  return text;
}

// A file produced by a GET (the 缴款记录 export), kept under the server's file name.
export async function downloadGet(url) {
  const response = await request("GET", url);
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)/i.exec(disposition) || /filename="?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : "export.xlsx";
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  return name;
}

// The DataTable (paging, page size, selection) over a list held here: the payment API
// answers whole lists (a unit's arrears, vouchers and records are hundreds, not 50,000).
// Rows that `canSelect` refuses get no usable checkbox and never join the selection.
export class ListTable extends DataTable {
  constructor(container, { canSelect = () => true, emptyText = "", ...options }) {
    super(container, { ...options, endpoint: "" });
    this.canSelect = canSelect;
    this.emptyText = emptyText;
    this.items = [];
  }

  setItems(items) {
    this.items = items;
    const present = new Set(items.filter((r) => this.canSelect(r)).map((r) => r[this.rowKey]));
    for (const key of [...this.selected]) if (!present.has(key)) this.selected.delete(key);
  }

  selectableItems() {
    return this.items.filter((r) => this.canSelect(r));
  }

  selectedCount() {
    return this.allMatching ? this.selectableItems().length : this.selected.size;
  }

  selectedItems() {
    if (this.allMatching) return this.selectableItems();
    return this.items.filter((r) => this.selected.has(r[this.rowKey]));
  }

  async load(page = this.page) {
    const pages = Math.max(1, Math.ceil(this.items.length / this.pageSize));
    this.page = Math.min(Math.max(1, page), pages);
    this.total = this.items.length;
    this.rows = this.items.slice((this.page - 1) * this.pageSize, this.page * this.pageSize);
    this.error = null;
    if (this.allMatching) for (const r of this.rows) this.selected.add(r[this.rowKey]);
    this.render();
    return this;
  }

  renderStatus() {
    super.renderStatus();
    if (this.emptyText && !this.error && this.total === 0) this.status.textContent = this.emptyText;
  }

  render() {
    for (const r of this.rows) if (!this.canSelect(r)) this.selected.delete(r[this.rowKey]);
    super.render();
    this.table.querySelectorAll("tbody tr").forEach((tr, n) => {
      const row = this.rows[n];
      if (row) tr.dataset.key = row[this.rowKey]; // tests and links find a row by its id
      if (this.selectable && row && !this.canSelect(row)) {
        const box = tr.querySelector("td.select input");
        box.disabled = true;
        box.title = "该欠费正在缴款或已开具凭证，不能选择";
      }
    });
  }
}

// Entering a records page asks the tax side for what changed (a voucher paid at the bank, a
// payment stored): quietly, the local list shows at once and again when the job ends.
export async function syncOnEntry(endpoint, kind, { box, state, after }) {
  const done = (text) => {
    box.hidden = true;
    state.textContent = text;
    after();
  };
  const progress = new JobProgress(box, {
    cancellable: false,
    onDone: (job) => done(job.result.message),
    onError: (err) => done(`未能从税务端同步：${err.message}，以下为本机记录`),
  });
  try {
    progress.attach((await post(endpoint, {})).job);
  } catch (err) {
    if (err.code === "job_running") {
      if (!(await progress.reattach(kind))) done("");
    } else {
      done(err.code === "offline" ? "离线模式：以下为本机记录" : `未能从税务端同步：${err.message}，以下为本机记录`);
    }
  }
}
