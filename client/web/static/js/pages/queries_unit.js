// 单位参保信息查询 (manual 3.1.8.1): synced from the tax side on entry and on 更新; 查询 by
// 主管税务机关, 单位编号, 社保经办机构 (exact, from the values the unit has); 导出.

import { count } from "../format.js";
import {
  ListTable, bindExport, bindReset, clipped, loadList, neverDownloaded, queryString, showState, syncFromTaxSide,
} from "./queries_common.js";

const form = document.getElementById("query");
const exportButton = document.getElementById("export");
const syncButton = document.getElementById("sync");
let shown = {};

const table = new ListTable(document.getElementById("result-table"), {
  rowKey: "key",
  pageSize: 50,
  emptyText: "没有符合条件的参保信息",
  columns: [
    { key: "unit_number", label: "单位编号", className: "nowrap" },
    { key: "item_name", label: "征收项目", className: "nowrap" },
    { key: "status", label: "参保状态", className: "nowrap" },
    { key: "registered_on", label: "参保日期", className: "nowrap" },
    { key: "agency", label: "社保经办机构", render: clipped("agency") },
    { key: "tax_authority", label: "主管税务机关", render: clipped("tax_authority") },
    { key: "collection_mode", label: "征收方式", className: "nowrap" },
  ],
});

function fillOptions(options) {
  for (const [name, values] of Object.entries(options)) {
    const select = form.elements[name];
    const keep = select.value;
    select.replaceChildren(select.options[0]);
    for (const v of values) select.append(new Option(v, v, false, v === keep));
  }
}

async function reload() {
  shown = Object.fromEntries(new FormData(form).entries());
  return loadList(table, exportButton, `/api/queries/unit${queryString(shown)}`, {
    keyOf: (r) => `${r.unit_number}:${r.item}`,
    never: neverDownloaded("本单位的参保信息"),
    shown: (data) => {
      fillOptions(data.options);
      document.getElementById("totals").textContent = data.count ? `共 ${count(data.count)} 条参保信息` : "";
    },
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  reload().then((state) => showState(state));
});
bindReset(form, reload);
syncButton.addEventListener("click", () => syncFromTaxSide({}, reload, [syncButton]));
bindExport(exportButton, () => `/api/queries/unit/export${queryString(shown)}`, table);

reload().then(() => syncFromTaxSide({}, reload, [syncButton], { onEntry: true }));
