// The login prompt kept current: on the first page after login the arrears on this PC may be
// old (or never fetched), so the tax side is asked once; 本月待办 (with the nearest arrears
// under its 欠费缴纳 line) is then drawn again from the server's own rendering of the home
// page (one template, no copy of it here).

import { endpoints, post, request } from "../api.js";
import { el } from "../dialog.js";
import { JobProgress } from "../job.js";

async function redraw() {
  const html = await (await request("GET", "/")).text();
  const doc = new DOMParser().parseFromString(html, "text/html");
  const fresh = doc.getElementById("home-status");
  const shown = document.getElementById("home-status");
  if (!fresh || !shown) return;
  // The login's pop-ups are taken by now, so the fresh page no longer marks the login prompt
  // (manual 3.1.2): this is still the first page after login, so mark it when there is
  // something to point at (arrears the refresh just found count too).
  if (fresh.dataset.prompts && !fresh.dataset.loginPrompt) {
    fresh.dataset.loginPrompt = "1";
    fresh.classList.add("login-prompt");
    fresh.setAttribute("role", "alert");
    const tag = el("span", { className: "prompt-tag", id: "login-prompt-tag", textContent: "登录提示" });
    fresh.querySelector(".panel-head h2")?.after(tag);
  }
  shown.replaceWith(fresh);
}

async function refreshArrears() {
  const progress = new JobProgress(document.createElement("div"), {
    cancellable: false,
    onDone: () => redraw().catch(() => {}),
    onError: () => {}, // the alerts from this PC's last list stay as drawn
  });
  try {
    progress.attach((await post(endpoints.paymentRefresh, {})).job);
  } catch (err) {
    if (err.code === "job_running") progress.reattach("payment_refresh").catch(() => {});
  }
}

if (document.body.dataset.popups === "1") refreshArrears();
