// 系统设置 > 操作员与角色: the mode switch, the operators (add, change, reset password, freeze,
// delete) and the roles (built-in ones shown, others ticked on the function tree).

import { get, post } from "../api.js";
import { confirm, el, field, formDialog } from "../dialog.js";
import { toast, toastError } from "../toast.js";
import { clearErrors, showFieldError, values } from "./operators_form.js";

let data = { operators: [], roles: [], units: [], tree: [] };
let editingRole = null;
// 单人使用: no operators; the page shows the switch and the built-in roles 多人使用 would give.
const single = document.getElementById("mode-panel").dataset.mode === "single";

function unitChecks(box, chosen) {
  box.replaceChildren();
  if (!data.units.length) box.append(el("p", { className: "muted", textContent: "本机还没有注册单位" }));
  for (const u of data.units) {
    const input = el("input", { type: "checkbox", value: u.unit_id, checked: chosen.includes(u.unit_id) });
    box.append(el("label", { className: "check-line" }, input, ` ${u.name}（${u.unit_id}）`));
  }
}

const checkedUnits = (box) => [...box.querySelectorAll("input:checked")].map((i) => i.value);

function roleOptions(select, selected) {
  select.replaceChildren(...data.roles.map((r) => el("option", { value: r.id, textContent: r.name, selected: r.id === selected })));
}

function unitNames(ids) {
  if (!ids.length) return "—";
  const names = new Map(data.units.map((u) => [u.unit_id, u.name]));
  return ids.map((id) => names.get(id) || id).join("、");
}

async function act(url, body, done) {
  try {
    data = await post(url, body);
    render();
    toast(done, "success");
  } catch (err) {
    toastError(err);
  }
}

function editOperator(op) {
  const name = el("input", { value: op.name, maxLength: 40 });
  const role = el("select");
  roleOptions(role, op.role_id);
  const box = el("div", { className: "check-list" });
  unitChecks(box, op.units);
  const body = el("div", {}, field("姓名", name), field("角色", role), field("可操作的单位", box));
  formDialog(`修改操作员：${op.name}`, body, async () => {
    data = await post(`/api/operators/${op.id}`, { name: name.value, role_id: Number(role.value), units: checkedUnits(box) });
    render();
    toast("已保存", "success");
  }, "保存");
}

function resetPassword(op) {
  const password = el("input", { type: "password", maxLength: 32, autocomplete: "new-password" });
  const again = el("input", { type: "password", maxLength: 32, autocomplete: "new-password" });
  const body = el("div", {}, field("新密码", password, "8-32位，须同时包含字母和数字"), field("确认新密码", again));
  formDialog(`重置密码：${op.name}`, body, async () => {
    data = await post(`/api/operators/${op.id}/password`, { password: password.value, confirm_password: again.value });
    render();
    toast(`密码已重置，锁定已解除；${op.name}下次登录时须先修改密码`, "success");
  }, "重置密码");
}

function renderOperators() {
  const box = document.getElementById("operator-list");
  if (!data.operators.length) {
    box.replaceChildren(el("p", { className: "muted", textContent: "还没有操作员。切换为多人使用时会创建管理员。" }));
    return;
  }
  const table = el("table", { className: "simple", id: "operator-table" });
  table.append(el("thead", {}, el("tr", {}, ...["姓名", "登录名", "角色", "可操作的单位", "状态", "操作"].map((t) => el("th", { textContent: t })))));
  const tbody = el("tbody");
  for (const op of data.operators) {
    const actions = el("td", { className: "row-actions" },
      el("button", { type: "button", className: "btn small", textContent: "修改", onclick: () => editOperator(op) }),
      el("button", { type: "button", className: "btn small", textContent: "重置密码", onclick: () => resetPassword(op) }),
      el("button", {
        type: "button", className: "btn small", textContent: op.frozen ? "解冻" : "冻结",
        onclick: () => act(`/api/operators/${op.id}/freeze`, { frozen: !op.frozen }, op.frozen ? `已解冻 ${op.name}` : `已冻结 ${op.name}`),
      }),
      el("button", {
        type: "button", className: "btn small", textContent: "删除",
        onclick: async () => {
          if (await confirm(`删除操作员「${op.name}」？操作日志中仍保留其姓名。`, { ok: "删除", danger: true })) {
            act(`/api/operators/${op.id}/delete`, {}, `已删除 ${op.name}`);
          }
        },
      }));
    const units = op.role_name === "管理员" ? "全部单位" : unitNames(op.units);
    const tr = el("tr");
    tr.dataset.login = op.login_name;
    tr.append(...[op.name, op.login_name, op.role_name, units, op.state].map((t) => el("td", { textContent: t })), actions);
    tbody.append(tr);
  }
  table.append(tbody);
  box.replaceChildren(table);
}

function renderTree(chosen) {
  const box = document.getElementById("role-tree");
  box.replaceChildren();
  for (const module of data.tree) {
    const line = el("div", { className: "role-tree-module" }, el("strong", { textContent: module.label + "：" }));
    for (const action of module.actions) {
      const input = el("input", { type: "checkbox", value: action.permission, checked: chosen.includes(action.permission) });
      line.append(el("label", { className: "check-line" }, input, ` ${action.label} `));
    }
    box.append(line);
  }
}

function renderRoles() {
  const box = document.getElementById("role-list");
  const table = el("table", { className: "simple", id: "role-table" });
  if (single) {
    table.append(el("thead", {}, el("tr", {}, ...["角色", "说明", "权限数"].map((t) => el("th", { textContent: t })))));
    table.append(el("tbody", {}, ...data.roles.filter((r) => r.builtin).map((role) => el("tr", {},
      ...[role.name, role.description, String(role.permissions.length)].map((t) => el("td", { textContent: t }))))));
    box.replaceChildren(table);
    return;
  }
  table.append(el("thead", {}, el("tr", {}, ...["角色", "说明", "权限数", "操作员", "操作"].map((t) => el("th", { textContent: t })))));
  const tbody = el("tbody");
  for (const role of data.roles) {
    const actions = el("td");
    if (!role.builtin) {
      actions.append(
        el("button", { type: "button", className: "btn small", textContent: "修改", onclick: () => startEdit(role) }),
        el("button", {
          type: "button", className: "btn small", textContent: "删除",
          onclick: async () => {
            if (await confirm(`删除角色「${role.name}」？`, { ok: "删除", danger: true })) act(`/api/operators/roles/${role.id}/delete`, {}, "角色已删除");
          },
        }));
    } else {
      actions.append(el("span", { className: "badge builtin", textContent: "内置" }));
    }
    tbody.append(el("tr", {}, ...[role.name, role.description, String(role.permissions.length), String(role.in_use)].map((t) => el("td", { textContent: t })), actions));
  }
  table.append(tbody);
  box.replaceChildren(table);
  const select = document.getElementById("op-role");
  const keep = Number(select.value) || data.roles.find((r) => r.key === "readonly")?.id;
  roleOptions(select, keep);
}

function startEdit(role) {
  editingRole = role;
  document.getElementById("role-editor-title").textContent = `修改角色：${role.name}`;
  document.getElementById("role-name").value = role.name;
  document.getElementById("role-new").hidden = false;
  renderTree(role.permissions);
}

function stopEdit() {
  editingRole = null;
  document.getElementById("role-editor-title").textContent = "新建角色";
  document.getElementById("role-form").reset();
  document.getElementById("role-new").hidden = true;
  renderTree([]);
}

function render() {
  if (!single) renderOperators();
  renderRoles();
}

const operatorForm = document.getElementById("operator-form");
operatorForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(operatorForm);
  const body = { ...values(operatorForm), role_id: Number(document.getElementById("op-role").value), units: checkedUnits(document.getElementById("op-units")) };
  try {
    data = await post("/api/operators", body);
    render();
    operatorForm.reset();
    roleOptions(document.getElementById("op-role"), data.roles.find((r) => r.key === "readonly")?.id);
    unitChecks(document.getElementById("op-units"), []);
    toast(`已新增操作员 ${body.name}`, "success");
  } catch (err) {
    showFieldError(operatorForm, err);
  }
});

const roleForm = document.getElementById("role-form");
roleForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(roleForm);
  const chosen = [...document.querySelectorAll("#role-tree input:checked")].map((i) => i.value);
  const url = editingRole ? `/api/operators/roles/${editingRole.id}` : "/api/operators/roles";
  try {
    data = await post(url, { name: document.getElementById("role-name").value, permissions: chosen });
    render();
    stopEdit();
    toast("角色已保存", "success");
  } catch (err) {
    showFieldError(roleForm, err);
  }
});
document.getElementById("role-new")?.addEventListener("click", stopEdit);

const modeForm = document.getElementById("mode-form");
modeForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(modeForm);
  try {
    const answer = await post("/api/operators/mode", { mode: "multi", ...values(modeForm) });
    window.location.href = answer.next;
  } catch (err) {
    showFieldError(modeForm, err);
  }
});
document.getElementById("mode-single")?.addEventListener("click", async () => {
  if (!(await confirm("切换为单人使用后无需操作员登录，操作员账号保留，以后可以切换回来。确定吗？", { ok: "切换为单人使用" }))) return;
  try {
    const answer = await post("/api/operators/mode", { mode: "single" });
    window.location.href = answer.next;
  } catch (err) {
    toastError(err);
  }
});

get("/api/operators").then((answer) => {
  data = answer;
  render();
  if (single) return;
  renderTree([]);
  unitChecks(document.getElementById("op-units"), []);
}).catch(toastError);
