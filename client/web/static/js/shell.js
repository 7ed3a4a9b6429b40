// The top bar of every page: current unit, 单位管理, 退出登录; the offline banner that
// disappears when the client reconnects; important notices popping up after login.

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
