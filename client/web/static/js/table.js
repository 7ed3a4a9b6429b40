// Data table with server-side paging, sorting, filtering and row selection.
// The endpoint answers {rows, total, page, size}; filters come from params().

import { get } from "./api.js";

export class DataTable {
  constructor(container, { endpoint, columns, rowKey = "id", selectable = false, pageSize = 50, params = () => ({}), onSelect = () => {}, onLoad = () => {} }) {
    Object.assign(this, { container, endpoint, columns, rowKey, selectable, pageSize, params, onSelect, onLoad });
    this.page = 1;
    this.sort = null;
    this.order = "asc";
    this.total = 0;
    this.rows = [];
    this.selected = new Set();
    this.container.classList.add("data-table");
    this.container.innerHTML = "";
    this.table = document.createElement("table");
    this.status = document.createElement("div");
    this.status.className = "table-status";
    this.pager = document.createElement("div");
    this.pager.className = "pager";
    this.container.append(this.table, this.status, this.pager);
  }

  selectedKeys() {
    return [...this.selected];
  }

  clearSelection() {
    this.selected.clear();
    this.render();
    this.onSelect(this.selectedKeys());
  }

  // New filters start again from page 1; selection is kept only for rows still shown.
  async search() {
    this.page = 1;
    this.selected.clear();
    this.onSelect([]);
    return this.load();
  }

  async load(page = this.page) {
    const query = new URLSearchParams({ page, size: this.pageSize });
    if (this.sort) {
      query.set("sort", this.sort);
      query.set("order", this.order);
    }
    for (const [k, v] of Object.entries(this.params())) if (v !== "" && v != null) query.set(k, v);
    this.container.setAttribute("aria-busy", "true");
    try {
      const data = await get(`${this.endpoint}?${query}`);
      this.rows = data.rows;
      this.total = data.total;
      this.page = data.page;
      this.error = null;
      this.onLoad(data); // the whole answer, for pages that show more than rows (counts)
    } catch (err) {
      this.error = err;
    } finally {
      this.container.removeAttribute("aria-busy");
    }
    this.render();
    return this;
  }

  render() {
    const head = document.createElement("thead");
    const headRow = document.createElement("tr");
    if (this.selectable) {
      const th = document.createElement("th");
      th.className = "select";
      const all = document.createElement("input");
      all.type = "checkbox";
      all.setAttribute("aria-label", "选择本页全部");
      const keys = this.rows.map((r) => r[this.rowKey]);
      all.checked = keys.length > 0 && keys.every((k) => this.selected.has(k));
      all.addEventListener("change", () => {
        for (const k of keys) all.checked ? this.selected.add(k) : this.selected.delete(k);
        this.render();
        this.onSelect(this.selectedKeys());
      });
      th.append(all);
      headRow.append(th);
    }
    for (const col of this.columns) {
      const th = document.createElement("th");
      th.textContent = col.label;
      if (col.sortable) {
        th.classList.add("sortable");
        th.dataset.sort = col.key;
        if (this.sort === col.key) th.classList.add(this.order === "desc" ? "sorted-desc" : "sorted-asc");
        th.addEventListener("click", () => {
          this.order = this.sort === col.key && this.order === "asc" ? "desc" : "asc";
          this.sort = col.key;
          this.load(1);
        });
      }
      headRow.append(th);
    }
    head.append(headRow);
    const body = document.createElement("tbody");
    for (const row of this.rows) {
      const tr = document.createElement("tr");
      const key = row[this.rowKey];
      if (this.selectable) {
        const td = document.createElement("td");
        td.className = "select";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.checked = this.selected.has(key);
        box.setAttribute("aria-label", "选择此行");
        box.addEventListener("change", () => {
          box.checked ? this.selected.add(key) : this.selected.delete(key);
          tr.classList.toggle("selected", box.checked);
          this.renderStatus();
          this.onSelect(this.selectedKeys());
        });
        td.append(box);
        tr.append(td);
        tr.classList.toggle("selected", box.checked);
      }
      for (const col of this.columns) {
        const td = document.createElement("td");
        const value = col.render ? col.render(row) : row[col.key];
        if (value instanceof Node) td.append(value);
        else td.textContent = value ?? "";
        if (col.className) td.className = col.className;
        tr.append(td);
      }
      body.append(tr);
    }
    this.table.replaceChildren(head, body);
    this.renderStatus();
  }

  renderStatus() {
    const pages = Math.max(1, Math.ceil(this.total / this.pageSize));
    if (this.error) this.status.textContent = `加载失败：${this.error.message}`;
    else if (this.total === 0) this.status.textContent = "暂无数据";
    else this.status.textContent = "";
    this.status.classList.toggle("error", Boolean(this.error));
    const info = document.createElement("span");
    info.className = "pager-info";
    info.textContent = `共 ${this.total} 条${this.selectable ? `，已选 ${this.selected.size} 条` : ""}，第 ${this.page} / ${pages} 页`;
    const prev = document.createElement("button");
    prev.className = "btn small";
    prev.textContent = "上一页";
    prev.disabled = this.page <= 1;
    prev.addEventListener("click", () => this.load(this.page - 1));
    const next = document.createElement("button");
    next.className = "btn small";
    next.textContent = "下一页";
    next.disabled = this.page >= pages;
    next.addEventListener("click", () => this.load(this.page + 1));
    this.pager.replaceChildren(info, prev, next);
  }
}
