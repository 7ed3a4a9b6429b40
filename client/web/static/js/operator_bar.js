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

// Hidden, not removed: the page's scripts may still look the element up.
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

// For row builders that want to say it in code: permit(el(...), "payment.void").
export function permit(node, permission) {
  node.dataset.perm = permission;
  if (!granted.includes("*")) hide(node);
  return node;
}

if (!granted.includes("*")) {
  hideForbidden();
  // Pages build parts of themselves later (table rows, dialogs, the 单位管理 list): what they
  // add is looked at as it arrives, and an element given data-perm afterwards too.
  new MutationObserver((changes) => {
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
