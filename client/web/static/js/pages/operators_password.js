// 修改我的密码 (any operator, 多人使用).

import { post } from "../api.js";
import { toast } from "../toast.js";
import { clearErrors, showFieldError, values } from "./operators_form.js";

const form = document.getElementById("own-password-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  try {
    await post("/api/operator/password", values(form));
    form.reset();
    toast("密码已修改", "success");
    // After an administrator's reset the rest of the client opens only now.
    if (form.dataset.forced === "1") window.location.href = form.dataset.next || "/";
  } catch (err) {
    showFieldError(form, err);
  }
});
