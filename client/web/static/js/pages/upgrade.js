// 关于 > 升级: the state of the last check, 检查更新, 升级 (a job, then the restart) and 升级方式.

import { get, post } from "../api.js";
import { JobProgress } from "../job.js";
import { toast, toastError } from "../toast.js";

// The upgrade views (client/api/upgrade.py).
const urls = { status: "/api/upgrade", check: "/api/upgrade/check", start: "/api/upgrade/start", mode: "/api/upgrade/mode" };
const $ = (id) => document.getElementById(id);
const progress = new JobProgress($("upgrade-progress"), {
  cancellable: true,
  onDone: (job) => {
    toast(job.result?.message || "升级完成", "success", 8000);
    $("upgrade-state").textContent = job.result?.message || "升级完成";
  },
  onError: (err) => { toastError(err); load(); },
});

function render(s, modes) {
  const latest = s.latest;
  let text;
  if (s.error) text = `检查失败：${s.error}`;
  else if (!s.checked_at) text = "尚未检查更新";
  else if (s.available) text = `有新版本 ${latest.version}（${latest.published_on} 发布，${(latest.size / 1048576).toFixed(1)} MB）`;
  else text = `当前版本已是最新版本`;
  $("upgrade-state").textContent = text;
  $("upgrade-checked").textContent = s.checked_at || "—";
  $("upgrade-start").hidden = !s.available;
  $("upgrade-notes").hidden = !(s.available && latest.notes);
  $("upgrade-notes").textContent = s.available ? `更新说明：${latest.notes}` : "";
  const rb = s.rollback;
  $("upgrade-rollback").hidden = !rb;
  if (rb) $("upgrade-rollback").textContent = `上次升级未成功：${rb.reason}，已恢复为版本 ${rb.restored}（${rb.at}）。`;
  $("upgrade-blocked").hidden = !s.blocked;
  if (s.blocked) $("upgrade-blocked").textContent = `税务端要求的最低版本为 ${s.min_version}，升级前不能申报和缴费。`;
  if (modes) {
    $("upgrade-mode").replaceChildren(...modes.map((m) => new Option(m.label, m.value, false, m.value === s.mode)));
  }
  if (s.job && s.job.state === "running") progress.attach(s.job);
}

async function load() {
  try {
    const data = await get(urls.status);
    render(data.upgrade, data.modes);
  } catch (err) {
    toastError(err);
  }
}

$("upgrade-check").addEventListener("click", async () => {
  $("upgrade-check").disabled = true;
  try {
    render((await post(urls.check, {})).upgrade);
    toast("已检查更新", "success");
  } catch (err) {
    toastError(err);
    load();
  } finally {
    $("upgrade-check").disabled = false;
  }
});

$("upgrade-start").addEventListener("click", async () => {
  try {
    progress.attach((await post(urls.start, {})).job);
  } catch (err) {
    toastError(err);
  }
});

$("upgrade-mode").addEventListener("change", async () => {
  try {
    render((await post(urls.mode, { upgrade_mode: $("upgrade-mode").value })).upgrade);
    toast("升级方式已保存", "success");
  } catch (err) {
    toastError(err);
  }
});

load();
