// The first start's data location on the login page: 单机使用 (default, nothing to do) or
// 团队使用 with a PostgreSQL URL and password: 测试连接, then 保存 (takes effect at the next start).

import { get, post } from "../api.js";

const panel = document.getElementById("data-location-setup");
if (panel) {
  const $ = (id) => document.getElementById(id);
  const form = $("data-team");
  const result = $("data-result");
  const chosen = () => panel.querySelector('input[name="data-mode"]:checked').value;
  const say = (text, ok) => {
    result.hidden = false;
    result.className = ok ? "ok-text" : "error-text";
    result.textContent = text;
  };
  const clear = () => {
    result.hidden = true;
    for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  };
  const fail = (err) => {
    const slot = err.field && form.querySelector(`[data-error-for="${err.field}"]`);
    if (slot) slot.textContent = err.message;
    else say(err.message || "操作失败，请重试", false);
  };
  const body = () => ({ mode: "team", url: $("data-url").value.trim(), password: $("data-password").value });

  const showMode = () => {
    const team = chosen() === "team";
    form.hidden = !team;
    $("data-actions").hidden = !team;
  };
  for (const radio of panel.querySelectorAll('input[name="data-mode"]')) {
    radio.addEventListener("change", () => {
      showMode();
      clear();
      if (chosen() === "team") $("data-url").focus();
    });
  }
  // A desk already pointed at a team database (socialfee db use) starts from that choice.
  get("/api/system/data-location").then((state) => {
    if (!state.configured) return;
    panel.querySelector('input[name="data-mode"][value="team"]').checked = true;
    $("data-url").value = state.configured;
    showMode();
  }).catch(() => {});
  $("data-test").addEventListener("click", async () => {
    clear();
    try {
      say((await post("/api/system/data-location/test", body())).message, true);
    } catch (err) {
      fail(err);
    }
  });
  $("data-save").addEventListener("click", async () => {
    clear();
    try {
      const answer = await post("/api/system/data-location/use", body());
      $("data-password").value = "";
      say(answer.message, true);
      // The rest of the first start belongs to the team database: after the restart.
      for (const other of document.querySelectorAll("#operator-setup, .login-panel")) other.hidden = answer.restart_needed;
    } catch (err) {
      fail(err);
    }
  });
}
