// 登录提示 kept current: on the first page after login the arrears on this PC may be old (or
// never fetched), so the tax side is asked once; the alerts are then drawn again from the
// server's own rendering of the home page (one template, no copy of it here).

import { endpoints, post, request } from "../api.js";
import { JobProgress } from "../job.js";

async function redraw() {
  const html = await (await request("GET", "/")).text();
  const doc = new DOMParser().parseFromString(html, "text/html");
  const fresh = doc.getElementById("home-alerts-slot");
  const slot = document.getElementById("home-alerts-slot");
  if (fresh && slot) slot.replaceChildren(...fresh.childNodes);
  const status = doc.getElementById("home-status"); // 本月待办 reads the same arrears
  if (status) document.getElementById("home-status")?.replaceWith(status);
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
