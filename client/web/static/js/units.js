// 单位管理: the dialog that adds, switches and removes units (top bar and login page).

import { endpoints, get, post } from "./api.js";
import { confirm, openDialog } from "./dialog.js";
import { toast, toastError } from "./toast.js";

function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

function button(label, onClick, extra = "", perm = "") {
  const b = document.createElement("button");
  b.type = "button";
  if (perm) b.dataset.perm = perm; // hidden by operator_bar.js when the role lacks it
  b.className = `btn small ${extra}`;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

// Ask how to remove: keep the local data (adding the unit again restores it) or delete it.
async function removeUnit(unit) {
  const answer = await openDialog({
    title: "删除单位",
    body: `从本机删除「${unit.name}」（纳税人识别号 ${unit.taxpayer_id}）。是否保留该单位的本地数据？保留时，以后重新添加该单位可继续使用这些数据。`,
    buttons: [
      { label: "取消", value: null },
      { label: "删除，保留本地数据", value: "keep", primary: true },
      { label: "删除并清除本地数据", value: "drop", danger: true },
    ],
  });
  if (!answer) return false;
  await post(endpoints.unitRemove(unit.unit_id), { keep_data: answer === "keep" });
  toast(`已删除单位「${unit.name}」`, "success");
  return true;
}

async function leaveFor(url, entered) {
  if (entered) {
    if (!(await confirm("需要退出当前单位并重新进行安全验证，确定吗？", { ok: "确定" }))) return;
    await post(endpoints.logout, {});
  }
  window.location.href = url;
}

// onChoose(unit): on the login page a click selects the unit instead of navigating.
export async function openUnitManager({ onChoose = null } = {}) {
  const body = document.createElement("div");
  const table = document.createElement("table");
  table.className = "simple unit-table";
  body.append(table);
  const entered = document.body.dataset.entered === "1";
  let changed = false;

  async function render() {
    const { units } = await get(endpoints.units);
    table.replaceChildren();
    const head = document.createElement("tr");
    for (const h of ["单位名称", "纳税人识别号", "地区", "最近登录", ""]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.append(th);
    }
    table.append(head);
    if (!units.length) {
      const tr = document.createElement("tr");
      const td = cell("本机还没有注册单位，请点击「添加单位」。", "muted");
      td.colSpan = 5;
      tr.append(td);
      table.append(tr);
    }
    for (const unit of units) {
      const tr = document.createElement("tr");
      tr.dataset.unitId = unit.unit_id;
      const actions = cell("", "actions");
      if (unit.current) {
        actions.append(Object.assign(document.createElement("span"), { className: "badge unread", textContent: "当前单位" }));
      } else {
        actions.append(button(onChoose ? "登录" : "切换", () => {
          if (onChoose) { dialog.close(); onChoose(unit); }
          else leaveFor(`/login?unit=${encodeURIComponent(unit.unit_id)}`, entered).catch(toastError);
        }, "primary"));
      }
      actions.append(" ", button("删除", async () => {
        try {
          if (await removeUnit(unit)) {
            changed = true;
            if (unit.current) window.location.href = "/login";
            else await render();
          }
        } catch (err) { toastError(err); }
      }, "", "units.edit"));
      tr.append(cell(unit.name), cell(unit.taxpayer_id), cell(unit.region_label), cell(unit.last_login_at || "—"), actions);
      table.append(tr);
    }
  }

  await render();
  const result = openDialog({
    title: "单位管理",
    body,
    buttons: [
      { label: "添加单位", value: "add" },
      { label: "关闭", value: null, primary: true },
    ],
  });
  const dialog = document.querySelector("dialog.dialog:last-of-type");
  dialog.classList.add("wide");
  dialog.id = "unit-manager";
  const answer = await result;
  if (answer === "add") await leaveFor("/login?add=1", entered);
  return changed;
}
