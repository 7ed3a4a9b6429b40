// Data table with server-side paging, sorting, filtering and row selection.
// The endpoint answers {rows, total, page, size}; filters come from params().
// Large units: a page-number field, a page-size choice, and 选中全部 N 条 (every row the
// filter matches, across pages): selection() then says {all: true, filter} instead of ids.

import { get } from "./api.js";
import { count } from "./format.js";

const PAGE_SIZES = [20, 50, 100, 200, 500];

export class DataTable {
  constructor(container, { endpoint, columns, rowKey = "id", selectable = false, pageSize = 50, params = () => ({}), onSelect = () => {}, onLoad = () => {} }) {
    Object.assign(this, { container, endpoint, columns, rowKey, selectable, pageSize, params, onSelect, onLoad });
    this.page = 1;
    this.sort = null;
    this.order = "asc";
    this.total = 0;
    this.rows = [];
    this.selected = new Set();
    this.allMatching = false; // 选中全部 N 条
    this.filter = {}; // the filters the current rows were loaded with
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

  // How many rows an action on the selection touches.
  selectedCount() {
    return this.allMatching ? this.total : this.selected.size;
  }

  // What a batch action sends: the ticked ids, or every row the current filter matches.
  selection() {
    return this.allMatching ? { all: true, filter: this.filter } : { ids: this.selectedKeys() };
  }

  clearSelection() {
    this.selected.clear();
    this.allMatching = false;
    this.render();
    this.onSelect(this.selectedKeys());
  }

  selectAllMatching() {
    this.allMatching = true;
    for (const r of this.rows) this.selected.add(r[this.rowKey]);
    this.render();
    this.onSelect(this.selectedKeys());
  }

  // New filters start again from page 1; selection is kept only for rows still shown.
  async search() {
    this.page = 1;
    this.selected.clear();
    this.allMatching = false;
    this.onSelect([]);
    return this.load();
  }

  async load(page = this.page) {
    const query = new URLSearchParams({ page, size: this.pageSize });
    if (this.sort) {
      query.set("sort", this.sort);
      query.set("order", this.order);
    }
    const filter = {};
    for (const [k, v] of Object.entries(this.params())) {
      if (v === "" || v == null) continue;
      query.set(k, v);
      filter[k] = v;
    }
    this.container.setAttribute("aria-busy", "true");
    try {
      const data = await get(`${this.endpoint}?${query}`);
      this.rows = data.rows;
      this.total = data.total;
      this.page = data.page;
      this.filter = filter;
      this.error = null;
      if (this.allMatching) for (const r of this.rows) this.selected.add(r[this.rowKey]);
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
        if (!all.checked) this.allMatching = false;
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
          if (!box.checked && this.allMatching) {
            this.allMatching = false;
            this.render();
            this.onSelect(this.selectedKeys());
            return;
          }
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
    const picked = this.selectable ? `，已选 ${this.selectedCount()} 条` : "";
    info.textContent = `共 ${count(this.total)} 条${picked}`;
    if (this.selectable) info.append(this.selectAllLink());
    const button = (label, page, disabled) => {
      const b = document.createElement("button");
      b.className = "btn small";
      b.textContent = label;
      b.disabled = disabled;
      b.addEventListener("click", () => this.load(page));
      return b;
    };
    const pageBox = document.createElement("input");
    Object.assign(pageBox, { type: "number", min: 1, max: pages, value: this.page, className: "page-number" });
    pageBox.setAttribute("aria-label", "页码");
    pageBox.addEventListener("change", () => {
      const wanted = Math.min(pages, Math.max(1, Math.trunc(Number(pageBox.value)) || 1));
      this.load(wanted);
    });
    const of = document.createElement("span");
    of.className = "pager-of";
    of.textContent = `/ ${pages} 页`;
    const size = document.createElement("select");
    size.setAttribute("aria-label", "每页行数");
    for (const n of new Set([...PAGE_SIZES, this.pageSize].sort((a, b) => a - b))) {
      const option = new Option(`每页 ${n} 条`, n, false, n === this.pageSize);
      size.append(option);
    }
    size.addEventListener("change", () => {
      this.pageSize = Number(size.value);
      this.load(1);
    });
    this.pager.replaceChildren(
      info, size, button("首页", 1, this.page <= 1), button("上一页", this.page - 1, this.page <= 1),
      pageBox, of, button("下一页", this.page + 1, this.page >= pages), button("末页", pages, this.page >= pages),
    );
  }

  // Shown once the whole page is ticked and more rows match than one page holds.
  selectAllLink() {
    const wrap = document.createElement("span");
    const pageKeys = this.rows.map((r) => r[this.rowKey]);
    const pageAll = pageKeys.length > 0 && pageKeys.every((k) => this.selected.has(k));
    if (this.allMatching) {
      const clear = document.createElement("button");
      clear.type = "button";
      clear.className = "link-button";
      clear.textContent = "取消全部选择";
      clear.addEventListener("click", () => this.clearSelection());
      wrap.append("（已选中全部符合条件的行）", clear);
    } else if (pageAll && this.total > pageKeys.length) {
      const all = document.createElement("button");
      all.type = "button";
      all.className = "link-button select-all-matching";
      all.textContent = `选中全部 ${this.total} 条`;
      all.addEventListener("click", () => this.selectAllMatching());
      wrap.append(" ", all);
    }
    return wrap;
  }
}
