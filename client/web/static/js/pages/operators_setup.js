// The first start's choice on the login page: 单人使用 in one click, or 多人使用 with its administrator.

import { post } from "../api.js";
import { clearErrors, showFieldError, values } from "./operators_form.js";

const panel = document.getElementById("operator-setup");
if (panel) {
  const adminForm = document.getElementById("setup-admin");
  const chosen = () => panel.querySelector('input[name="setup-mode"]:checked').value;
  for (const radio of panel.querySelectorAll('input[name="setup-mode"]')) {
    radio.addEventListener("change", () => {
      adminForm.hidden = chosen() !== "multi";
    });
  }
  document.getElementById("setup-go").addEventListener("click", async () => {
    clearErrors(adminForm);
    const mode = chosen();
    try {
      const answer = await post("/api/operator/setup", mode === "multi" ? { mode, ...values(adminForm) } : { mode });
      if (mode === "single") panel.remove();
      else window.location.href = answer.next;
    } catch (err) {
      showFieldError(adminForm, err);
    }
  });
}
