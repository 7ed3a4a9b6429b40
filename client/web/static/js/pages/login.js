// The login wizard: units -> taxpayer ID -> (choose unit) -> password -> (forced change)
// -> confirm registration. The server holds the session; this page only shows the step.

import { endpoints, get, post } from "../api.js";
import { toast, toastError } from "../toast.js";
import { openUnitManager } from "../units.js";

const data = JSON.parse(document.getElementById("login-data").textContent);
const $ = (id) => document.getElementById(id);
let target = null; // the unit being logged in: {unit_id, name, taxpayer_id, region_label, hint, saved}
let found = []; // units the tax side returned for the taxpayer ID

const STEP_OF = { units: "unit", taxpayer: "unit", choose: "unit", password: "password", change: "change", confirm: "confirm" };
const ORDER = ["unit", "password", "change", "confirm"];

function show(step) {
  for (const el of document.querySelectorAll(".step")) el.hidden = el.id !== `step-${step}`;
  const current = ORDER.indexOf(STEP_OF[step]);
  for (const li of document.querySelectorAll("#wizard-steps li")) {
    const i = ORDER.indexOf(li.dataset.step);
    li.className = i === current ? "current" : i < current ? "done" : "";
  }
  const focus = document.querySelector(`#step-${step} input:not([type=checkbox]):not([type=radio])`);
  focus?.focus();
}

function clearErrors(scope = document) {
  for (const el of scope.querySelectorAll(".field-error")) el.textContent = "";
}

function showError(err, scope) {
  const slot = err.field && scope.querySelector(`[data-error-for="${err.field}"]`);
  if (slot) slot.textContent = err.message;
  else toastError(err);
}

function choiceList(list, units, name) {
  list.replaceChildren();
  units.forEach((u, i) => {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"), { type: "radio", name, value: u.unit_id, checked: i === 0 });
    const text = document.createElement("span");
    text.textContent = u.name;
    const sub = document.createElement("span");
    sub.className = "sub";
    // The internal unit id is not a 单位编号; the 社保单位编号 themselves are not shown before
    // the password check (the initial password is made of their last 6 characters).
    sub.textContent = `${u.region_label} · 纳税人识别号 ${u.taxpayer_id}`;
    text.append(sub);
    if (u.hint) text.append(Object.assign(document.createElement("span"), { className: "sub", textContent: u.hint }));
    label.append(input, text);
    li.append(label);
    list.append(li);
  });
}

function chosen(name, units) {
  const value = document.querySelector(`input[name="${name}"]:checked`)?.value;
  return units.find((u) => u.unit_id === value) ?? null;
}

// -- step: local units --------------------------------------------------------------------
function showUnits() {
  if (!data.units.length) return showTaxpayer();
  choiceList($("local-units"), data.units, "local-unit");
  show("units");
}
$("units-next").addEventListener("click", () => {
  const unit = chosen("local-unit", data.units);
  if (unit) showPassword(unit, "units");
});
$("units-add").addEventListener("click", () => showTaxpayer());
$("units-manage").addEventListener("click", async () => {
  try {
    const changed = await openUnitManager({ onChoose: (u) => showPassword(data.units.find((x) => x.unit_id === u.unit_id) ?? u, "units") });
    if (changed) window.location.reload();
  } catch (err) { toastError(err); }
});

// -- step: taxpayer ID --------------------------------------------------------------------
function showTaxpayer() {
  $("taxpayer-back").hidden = !data.units.length;
  show("taxpayer");
}
$("taxpayer-back").addEventListener("click", showUnits);
async function lookup() {
  const scope = $("step-taxpayer");
  clearErrors(scope);
  try {
    found = (await post(endpoints.taxpayer, { taxpayer_id: $("taxpayer-id").value })).units;
  } catch (err) { return showError(err, scope); }
  if (found.length === 1) return showPassword(found[0], "taxpayer");
  choiceList($("taxside-units"), found, "taxside-unit");
  show("choose");
}
$("taxpayer-next").addEventListener("click", lookup);
$("taxpayer-form").addEventListener("submit", (e) => { e.preventDefault(); lookup(); });
$("choose-back").addEventListener("click", showTaxpayer);
$("choose-next").addEventListener("click", () => {
  const unit = chosen("taxside-unit", found);
  if (unit) showPassword(unit, "choose");
});

// -- step: declaration password ----------------------------------------------------------------
let backTo = "units";
function showPassword(unit, from) {
  target = unit;
  backTo = from;
  $("password-unit").textContent = `${unit.name}（${unit.region_label}，纳税人识别号 ${unit.taxpayer_id}）`;
  $("password-hint").textContent = unit.hint || "";
  $("password-hint").hidden = !unit.hint;
  $("password-saved").hidden = !unit.saved;
  $("offline-enter").hidden = true;
  $("offline-offer").hidden = true;
  $("password").value = "";
  clearErrors($("step-password"));
  show("password");
}
$("password-back").addEventListener("click", () => (backTo === "choose" ? show("choose") : backTo === "taxpayer" ? showTaxpayer() : showUnits()));

async function login(useSaved = false) {
  const scope = $("step-password");
  clearErrors(scope);
  const body = { unit_id: target.unit_id, password: $("password").value, remember: $("remember").checked, use_saved: useSaved };
  let answer;
  try {
    answer = await post(endpoints.login, body);
  } catch (err) {
    if (err.code === "offline_available") {
      $("offline-offer").textContent = err.message;
      $("offline-offer").hidden = false;
      $("offline-enter").hidden = false;
      return;
    }
    return showError(err.field ? err : Object.assign(err, { field: "password" }), scope);
  }
  if (answer.next === "change") show("change");
  else await showConfirm();
}
$("password-next").addEventListener("click", () => login(false));
$("password-saved").addEventListener("click", () => login(true));
$("password-form").addEventListener("submit", (e) => { e.preventDefault(); login(false); });
$("offline-enter").addEventListener("click", async () => {
  try {
    await post(endpoints.offline, { unit_id: target.unit_id, password: $("password").value });
    window.location.href = data.next;
  } catch (err) { showError(err, $("step-password")); }
});

// -- step: forced change of the initial password --------------------------------------------
async function changeInitial() {
  const scope = $("step-change");
  clearErrors(scope);
  try {
    await post(endpoints.changeInitial, { new_password: $("new-password").value, confirm_password: $("confirm-password").value });
  } catch (err) { return showError(err.field ? err : Object.assign(err, { field: "new_password" }), scope); }
  toast("初始申报密码已修改", "success");
  await showConfirm();
}
$("change-next").addEventListener("click", changeInitial);
$("change-form").addEventListener("submit", (e) => { e.preventDefault(); changeInitial(); });

// -- step: confirm the registration ------------------------------------------------------------
function facts(title, rows) {
  const box = document.createElement("div");
  const h = document.createElement("h3");
  h.textContent = title;
  const table = document.createElement("table");
  table.className = "simple";
  for (const [k, v] of rows) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = k;
    const td = document.createElement("td");
    td.textContent = v ?? "—";
    tr.append(th, td);
    table.append(tr);
  }
  box.append(h, table);
  return box;
}

async function showConfirm() {
  const { registration: r, note } = await get(endpoints.registration);
  $("confirm-note").textContent = note || "";
  $("confirm-note").hidden = !note;
  const box = $("registration");
  box.replaceChildren();
  if (r) {
    box.append(
      facts("税务登记信息", [
        ["纳税人识别号", r.taxpayer_id], ["纳税人名称", r.name], ["主管税务机关", r.tax_authority], ["登记注册类型", r.registration_type],
      ]),
      facts("参保登记信息", [
        ["参保地区", r.region_label], ["征收方式", r.collection_mode], ["工伤行业风险类别", `${r.industry_risk_class} 类`],
        ["机关事业单位", r.is_government ? "是" : "否"],
        ...r.unit_numbers.map((n) => [`社保单位编号（${n.kind_label}）`, `${n.number}　${n.agency}`]),
      ]),
    );
  }
  $("confirm-check").checked = false;
  clearErrors($("step-confirm"));
  show("confirm");
}
$("confirm-next").addEventListener("click", async () => {
  try {
    await post(endpoints.confirm, { confirmed: $("confirm-check").checked });
    window.location.href = data.next;
  } catch (err) { showError(err, $("step-confirm")); }
});
for (const id of ["change-cancel", "confirm-cancel"]) {
  $(id).addEventListener("click", async () => {
    await post(endpoints.logout, {}).catch(toastError);
    window.location.href = "/login";
  });
}

// -- where to start ----------------------------------------------------------------------------
const state = data.session.state;
if (state === "entered" && !data.add && !data.preselect) window.location.replace(data.next);
else if (state === "must_change") show("change");
else if (state === "confirm") showConfirm().catch(toastError);
else if (data.preselect && data.units.some((u) => u.unit_id === data.preselect)) showPassword(data.units.find((u) => u.unit_id === data.preselect), "units");
else if (data.add) showTaxpayer();
else showUnits();
