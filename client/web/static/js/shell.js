// The top bar of every page: current unit, 单位管理, 退出登录; the offline banner that
// disappears when the client reconnects; the progress banner of 职工参保信息更新;
// important notices popping up after login.

import { endpoints, get, post } from "./api.js";
import { openDialog } from "./dialog.js";
import { toast, toastError } from "./toast.js";
import { openUnitManager } from "./units.js";

const entered = document.body.dataset.entered === "1";

document.getElementById("unit-manager-open")?.addEventListener("click", () => openUnitManager().catch(toastError));
document.getElementById("logout")?.addEventListener("click", async () => {
  try {
    await post(endpoints.logout, {});
    window.location.href = "/login";
  } catch (err) { toastError(err); }
});

// Offline: ask the server how the reconnect goes; the banner goes once it is back.
const banner = document.getElementById("offline-banner");
if (banner) {
  const timer = setInterval(async () => {
    let session;
    try {
      ({ session } = await get(endpoints.session));
    } catch { return; }
    document.getElementById("offline-message").textContent = session.offline_message;
    if (!session.offline) {
      clearInterval(timer);
      banner.remove();
      toast("已重新连接税务端，离线模式结束", "success");
    } else if (session.reconnect_stopped) {
      clearInterval(timer);
    }
  }, 2000);
}

export function showNotice(notice) {
  const body = document.createElement("div");
  const meta = document.createElement("p");
  meta.className = "notice-meta";
  meta.textContent = `${notice.importance} · 发布日期 ${notice.published_on} · 有效期至 ${notice.valid_until}`;
  const text = document.createElement("div");
  text.className = "notice-body";
  text.textContent = notice.body;
  body.append(meta, text);
  return openDialog({ title: notice.title, body, buttons: [{ label: "我知道了", value: true, primary: true }] });
}

// Pop-ups once per login, after the notices refresh has finished.
async function popups(tries = 0) {
  const answer = await get(endpoints.noticePopups);
  if (answer.pending && tries < 40) return setTimeout(() => popups(tries + 1).catch(() => {}), 500);
  for (const notice of answer.items) {
    await showNotice(notice);
    await post(endpoints.noticeRead(notice.notice_id), {});
  }
}
if (document.body.dataset.popups === "1") popups().catch(() => {});

// 职工参保信息更新 runs in the background for minutes: every page shows how far it got.
// Asked once when the page loads (it may open mid-run), then polled only while it runs.
// The banner exists only for an entered unit, so nothing here meets a not-logged-in 401.
const SYNC_POLL_MS = 1500;
const syncBanner = document.getElementById("sync-banner");
// 职工参保信息 has its own progress bar.
if (syncBanner && syncBanner.dataset.here !== "1") watchEnrollmentSync(syncBanner).catch(() => {});

async function watchEnrollmentSync(box) {
  const text = box.querySelector(".sync-banner-text");
  const bar = box.querySelector("progress");
  const close = box.querySelector(".sync-banner-close");
  const count = new Intl.NumberFormat("zh-CN");
  const unit = box.dataset.unit ? `&unit_id=${encodeURIComponent(box.dataset.unit)}` : "";
  let hideTimer;
  const hide = () => {
    clearTimeout(hideTimer);
    box.hidden = true;
  };
  close.addEventListener("click", hide);

  const { jobs } = await get(endpoints.jobs(`?kind=enrollment_sync&active=1${unit}`));
  if (!jobs.length) return;
  let job = jobs[0];
  for (;;) {
    box.className = "sync-banner";
    box.hidden = false;
    if (job.state !== "running") break;
    bar.hidden = false;
    if (job.total > 0) {
      bar.max = job.total;
      bar.value = job.done;
      text.textContent = `正在更新职工参保信息… ${count.format(job.done)} / ${count.format(job.total)}`;
    } else {
      bar.removeAttribute("value"); // not known yet (first page, or the backup before it)
      text.textContent = `正在更新职工参保信息…${job.message ? ` ${job.message}` : ""}`;
    }
    await new Promise((resolve) => setTimeout(resolve, SYNC_POLL_MS));
    try {
      ({ job } = await get(endpoints.job(job.id)));
    } catch {
      hide(); // the job is gone (the program restarted): nothing left to show
      return;
    }
  }
  // The end: briefly what came of it, then out of the way.
  bar.hidden = true;
  if (job.state === "succeeded") {
    box.classList.add("done");
    text.textContent = `职工参保信息更新完成：${job.result?.message ?? ""}`;
    hideTimer = setTimeout(hide, 6000);
  } else if (job.state === "cancelled") {
    text.textContent = "职工参保信息更新已取消";
    hideTimer = setTimeout(hide, 6000);
  } else {
    box.classList.add("failed");
    close.hidden = false;
    text.textContent = `职工参保信息更新失败：${job.error?.message ?? "请稍后重试"}`;
    hideTimer = setTimeout(hide, 20000);
  }
}
