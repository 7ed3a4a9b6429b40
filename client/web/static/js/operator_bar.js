// 多人使用 on every page: the operator's logout, and the buttons the operator's role may not
// use hidden (the server refuses them anyway: client/core/permissions.py). The permissions
// come from <body data-perms>: "*" for everything (单人使用, 管理员).

import { post } from "./api.js";
import { toastError } from "./toast.js";

const granted = (document.body.dataset.perms ?? "*").split(" ");
export const can = (permission) => granted.includes("*") || granted.includes(permission);

// Per page (path prefix): the buttons and what each needs.
const BUTTONS = {
  "/payment": { "#pay": "payment.pay" },
  "/fee-declaration": { "#submit": "fee_declaration.submit", "#send": "fee_declaration.submit",
    "#feedback": "fee_declaration.edit" },
  "/wage-base": { "#submit": "wage_base.submit", "#send": "wage_base.submit", "#delete": "wage_base.edit",
    "#batch": "wage_base.edit", "#download-insured": "wage_base.edit", "#feedback": "wage_base.edit", "#add-menu": "wage_base.edit",
    "label.check-inline:has(#per-item)": "wage_base.edit" },
  "/enrollment": { "#sync-incremental": "enrollment.edit", "#sync-full": "enrollment.edit" },
  "/about": { "#upgrade-check": "system.settings", "#upgrade-start": "system.settings" },
  "/settings": { "#settings-form button[type=submit]": "system.settings", "#settings-reset": "system.settings",
    "#backup-now": "system.backup", "#backup-settings button[type=submit]": "system.backup",
    "#backup-upload": "system.restore", "#refresh-button": "units.edit", "#proxy-save": "system.settings",
    "#upgrade-start": "system.settings" },
};

function hideForbidden() {
  const path = window.location.pathname;
  for (const [prefix, buttons] of Object.entries(BUTTONS)) {
    if (path !== prefix && !path.startsWith(prefix + "/")) continue;
    for (const [selector, permission] of Object.entries(buttons)) {
      if (can(permission)) continue;
      // CSSOM, not a style attribute: the page's Content-Security-Policy allows this.
      for (const node of document.querySelectorAll(selector)) node.style.setProperty("display", "none", "important");
    }
  }
  for (const node of document.querySelectorAll("[data-perm]")) {
    if (!can(node.dataset.perm)) node.style.setProperty("display", "none", "important");
  }
}

if (!granted.includes("*")) {
  hideForbidden();
  // Pages build parts of themselves later (tables, dialogs): hide what they add too.
  new MutationObserver(hideForbidden).observe(document.getElementById("main") ?? document.body,
    { childList: true, subtree: true });
}

document.getElementById("operator-logout")?.addEventListener("click", async () => {
  try {
    await post("/api/operator/logout", {});
    window.location.href = "/operator-login";
  } catch (err) {
    toastError(err);
  }
});
