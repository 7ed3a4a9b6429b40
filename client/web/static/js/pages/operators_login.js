// 操作员登录 (多人使用): wrong passwords count down to a timed lock; a frozen operator is told so.

import { post } from "../api.js";
import { clearErrors, showFieldError, values } from "./operators_form.js";

const form = document.getElementById("operator-login-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  try {
    await post("/api/operator/login", values(form));
    window.location.href = form.dataset.next || "/";
  } catch (err) {
    showFieldError(form, err);
    document.getElementById("operator-password").value = "";
  }
});
