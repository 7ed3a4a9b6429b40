// 多人使用 on every page: the operator's logout, and every action element the operator's role
// may not use hidden (the server refuses them anyway: client/core/permissions.py). The
// permissions come from <body data-perms>: "*" for everything (单人使用, 管理员). An action
// element says what it needs with data-perm="<permission>" (templates, and the rows and
// dialogs the page scripts build: el(tag, {perm}) in dialog.js, or permit() below).

import { post } from "./api.js";
import { toastError } from "./toast.js";

const granted = (document.body.dataset.perms ?? "*").split(" ");
// data-perm="a b": any one of them will do.
export const can = (permission) => granted.includes("*") || permission.split(" ").some((p) => granted.includes(p));

// The pages' main buttons, older than their data-perm attributes: given one here (path prefix,
// selector, permission), then hidden like every other element that carries data-perm.
const BUTTONS = {
  "/payment": { "#pay": "payment.pay" },
  "/fee-declaration": { "#submit": "fee_declaration.submit", "#send": "fee_declaration.submit" },
  "/wage-base": { "#submit": "wage_base.submit", "#send": "wage_base.submit", "#delete": "wage_base.edit",
    "#batch": "wage_base.edit", "#download-insured": "wage_base.edit", "#add-menu": "wage_base.edit",
    "label.check-inline:has(#per-item)": "wage_base.edit" },
  "/enrollment": { "#sync-incremental": "enrollment.edit", "#sync-full": "enrollment.edit" },
  "/about": { "#upgrade-check": "system.settings", "#upgrade-start": "system.settings" },
  "/settings": { "#settings-form button[type=submit]": "system.settings", "#settings-reset": "system.settings",
    "#backup-now": "system.backup", "#backup-settings button[type=submit]": "system.backup",
    "#backup-upload": "system.restore", "#refresh-button": "units.edit", "#proxy-save": "system.settings",
    "#upgrade-start": "system.settings" },
};

function markButtons() {
  const path = window.location.pathname;
  for (const [prefix, buttons] of Object.entries(BUTTONS)) {
    if (path !== prefix && !path.startsWith(prefix + "/")) continue;
    for (const [selector, permission] of Object.entries(buttons)) {
      for (const node of document.querySelectorAll(selector)) if (!node.dataset.perm) node.dataset.perm = permission;
    }
  }
}

// Removed from view, not from the page: the page's scripts may still look the element up.
// CSSOM, not a style attribute: the page's Content-Security-Policy allows this.
function hide(node) {
  if (node.dataset.perm !== undefined && !can(node.dataset.perm)) {
    node.style.setProperty("display", "none", "important");
    node.dataset.permHidden = "1";
  } else if (node.dataset.permHidden) { // its data-perm changed to one the role has
    node.style.removeProperty("display");
    delete node.dataset.permHidden;
  }
}

export function hideForbidden(root = document) {
  if (root.nodeType !== Node.ELEMENT_NODE && root !== document) return;
  if (root !== document) hide(root);
  for (const node of root.querySelectorAll("[data-perm]")) hide(node);
}

// For row builders that want to say it in code: el(...) then permit(node, "payment.void").
export function permit(node, permission) {
  node.dataset.perm = permission;
  if (!granted.includes("*")) hide(node);
  return node;
}

if (!granted.includes("*")) {
  markButtons();
  hideForbidden();
  // Pages build parts of themselves later (table rows, dialogs, the 单位管理 list): what they
  // add is looked at as it arrives, and an element given data-perm afterwards too.
  new MutationObserver((changes) => {
    markButtons();
    for (const change of changes) {
      if (change.type === "attributes") hide(change.target);
      else for (const node of change.addedNodes) if (node.nodeType === Node.ELEMENT_NODE) hideForbidden(node);
    }
  }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-perm"] });
}

document.getElementById("operator-logout")?.addEventListener("click", async () => {
  try {
    await post("/api/operator/logout", {});
    window.location.href = "/operator-login";
  } catch (err) {
    toastError(err);
  }
});
