// 数据位置 on the settings page: where this desk's data are (never the password), and
// whether a changed location waits for the next start.

import { get } from "../api.js";

const $ = (id) => document.getElementById(id);
if ($("data-location-panel")) {
  get("/api/system/data-location").then((state) => {
    $("data-location-mode").textContent = state.team ? "团队使用（PostgreSQL 服务器）" : "单机使用（本机数据库）";
    $("data-location-current").textContent = state.location;
    $("data-location-docs").hidden = !state.docs;
    const restart = $("data-location-restart");
    restart.hidden = !state.restart_needed;
    restart.textContent = state.restart_needed
      ? `已设置新的数据位置 ${state.configured || "本机数据库"}，重新启动客户端后生效。`
      : "";
  }).catch(() => {
    $("data-location-current").textContent = "（读取失败，请刷新页面）";
  });
}
