// 单位信息 / 规则信息 (更新 buttons), 申报密码设置, 登录密码设置 and the lock page.

import { endpoints, post } from "../api.js";
import { confirm } from "../dialog.js";
import { bindRefresh } from "../refresh.js";
import { toast, toastError } from "../toast.js";

const refreshButton = document.getElementById("refresh-button");
if (refreshButton) {
  bindRefresh(refreshButton, document.getElementById("refresh-progress"), {
    endpoint: refreshButton.dataset.endpoint,
    kind: refreshButton.dataset.kind,
    // The page is rendered by the server: reload to show the new data (or the failure).
    onFinish: () => setTimeout(() => window.location.reload(), 800),
  });
}

function fieldError(form, err) {
  const slot = err.field && form.querySelector(`[data-error-for="${err.field}"]`);
  if (slot) slot.textContent = err.message;
  else toastError(err);
}

for (const form of document.querySelectorAll("form.password-form")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    try {
      const answer = await post(form.dataset.endpoint, Object.fromEntries(new FormData(form).entries()));
      toast(answer.message, "success");
      form.reset();
      if (form.id === "login-password-form") setTimeout(() => window.location.reload(), 800);
    } catch (err) {
      fieldError(form, err);
    }
  });
}

document.getElementById("login-password-clear")?.addEventListener("click", async () => {
  const form = document.getElementById("login-password-form");
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  if (!(await confirm("取消后启动客户端不再需要登录密码。确定吗？", { ok: "取消登录密码" }))) return;
  try {
    const answer = await post(endpoints.loginPasswordClear, { old_password: document.getElementById("old-password").value });
    toast(answer.message, "success");
    setTimeout(() => window.location.reload(), 800);
  } catch (err) {
    fieldError(form, err);
  }
});

const unlockForm = document.getElementById("unlock-form");
unlockForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const el of unlockForm.querySelectorAll(".field-error")) el.textContent = "";
  try {
    await post(endpoints.unlock, { password: document.getElementById("lock-password").value });
    window.location.href = "/";
  } catch (err) {
    fieldError(unlockForm, err);
  }
});
