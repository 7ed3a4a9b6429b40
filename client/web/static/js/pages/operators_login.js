// 操作员登录 (多人使用): wrong passwords count down to a timed lock; a frozen operator is told so.

import { post } from "../api.js";
import { clearErrors, showFieldError, values } from "./operators_form.js";

const form = document.getElementById("operator-login-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  try {
    const answer = await post("/api/operator/login", values(form));
    const next = form.dataset.next || "/";
    // A password reset by an administrator is changed first (the server allows nothing else).
    window.location.href = answer.must_change ? `/operator-password?next=${encodeURIComponent(next)}` : next;
  } catch (err) {
    showFieldError(form, err);
    document.getElementById("operator-password").value = "";
  }
});
