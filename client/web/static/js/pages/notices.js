// 通知公告: valid notices with read state; a title opens the detail dialog and marks it read.

import { endpoints, get, post } from "../api.js";
import { bindRefresh } from "../refresh.js";
import { showNotice } from "../shell.js";
import { toastError } from "../toast.js";

const body = document.querySelector("#notices-table tbody");
const unreadOnly = document.getElementById("unread-only");
let items = [];

function td(text) {
  const cell = document.createElement("td");
  cell.textContent = text;
  return cell;
}

function badge(text, kind) {
  return Object.assign(document.createElement("span"), { className: `badge ${kind}`, textContent: text });
}

function render() {
  const shown = items.filter((n) => !unreadOnly.checked || !n.read);
  body.replaceChildren();
  for (const n of shown) {
    const tr = document.createElement("tr");
    tr.className = n.read ? "read" : "unread";
    tr.dataset.noticeId = n.notice_id;
    const title = document.createElement("td");
    const link = Object.assign(document.createElement("button"), { type: "button", className: "notice-title", textContent: n.title });
    link.dataset.perm = "notices.view";
    link.addEventListener("click", () => open(n).catch(toastError));
    title.append(link);
    const importance = document.createElement("td");
    importance.append(badge(n.importance, n.importance === "重要" ? "important" : ""));
    const state = document.createElement("td");
    state.append(n.read ? document.createTextNode("已读") : badge("未读", "unread"));
    tr.append(title, importance, td(n.published_on), td(n.valid_until), state);
    body.append(tr);
  }
  document.getElementById("notices-empty").hidden = shown.length > 0;
}

async function open(notice) {
  await showNotice(notice);
  if (!notice.read) {
    await post(endpoints.noticeRead(notice.notice_id), {});
    await load();
  }
}

async function load() {
  const data = await get(endpoints.notices);
  items = data.items;
  document.getElementById("notice-counts").textContent = `共 ${data.counts.total} 条，未读 ${data.counts.unread} 条`;
  const s = data.refresh;
  const line = document.getElementById("notice-refresh-state");
  line.replaceChildren();
  if (s.ok_at) line.append(`上次更新：${s.ok_at}`);
  if (s.error) {
    line.append(" ", Object.assign(document.createElement("span"), {
      className: "error-text", textContent: `最近一次更新失败（${s.error_at}）：${s.error}`,
    }));
  }
  render();
}

unreadOnly.addEventListener("change", render);
bindRefresh(document.getElementById("notices-refresh"), document.getElementById("notices-progress"), {
  endpoint: endpoints.noticesRefresh,
  kind: "notices_refresh",
  onFinish: () => load().catch(toastError),
});
load().catch(toastError);
