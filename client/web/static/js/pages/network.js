// 网络管理 on the settings page: the proxy (测试, then 保存 — the server tests again before it
// saves) and the business server (read-only address, 测试 for latency and protocol version).
import { get, post } from "../api.js";
import { toast, toastError } from "../toast.js";

const form = document.getElementById("proxy-form");
const mode = document.getElementById("proxy_mode");
const passwordInput = document.getElementById("proxy_password");
const passwordNote = document.getElementById("proxy-password-note");
const proxyResult = document.getElementById("proxy-result");
const serverResult = document.getElementById("server-result");
const testButton = document.getElementById("proxy-test");
const saveButton = document.getElementById("proxy-save");
let keyringProblem = null;

function showMode() {
  const direct = mode.value === "none";
  for (const node of form.querySelectorAll(".proxy-only")) node.hidden = direct;
}

function showPasswordNote(kept, user) {
  const where = kept === "keyring" ? "已保存在系统密钥环中，不修改请留空。"
    : kept === "memory" ? "本次运行已输入，不修改请留空。"
    : user ? "本次运行尚未输入密码：请输入密码后测试并保存。" : "";
  passwordNote.textContent = [where, keyringProblem || "密码保存在系统密钥环中，不会写入设置文件、日志或备份。"]
    .filter(Boolean).join(" ");
}

function fill(state) {
  const p = state.proxy;
  mode.value = p.proxy_mode;
  for (const name of ["proxy_host", "proxy_port", "proxy_user"]) form.elements[name].value = p[name];
  passwordInput.value = "";
  keyringProblem = state.keyring_problem;
  showPasswordNote(p.password_kept, p.proxy_user);
  const server = state.server;
  document.getElementById("server-url").value = server.url || "（未配置）";
  if (server.source !== "release") {
    document.getElementById("server-note").textContent =
      `当前地址来自${server.source_label}（仅供演示和开发），正式版本的地址由安装包固定。`;
  }
  showMode();
}

function values() {
  return Object.fromEntries(new FormData(form).entries());
}

function clearErrors() {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
}

function showResult(box, result) {
  box.className = `probe-result ${result.ok ? "ok-text" : "error-text"}`;
  box.textContent = result.ok ? `测试通过：${result.message}` : `测试未通过：${result.message}`;
}

function showFieldError(err) {
  const slot = err.field && form.querySelector(`[data-error-for="${err.field}"]`);
  if (slot) slot.textContent = err.message;
  else {
    proxyResult.className = "probe-result error-text";
    proxyResult.textContent = err.message;
  }
}

async function busy(button, work) {
  button.disabled = true;
  const label = button.textContent;
  button.textContent = "正在测试…";
  try {
    await work();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

mode.addEventListener("change", () => {
  showMode();
  proxyResult.textContent = "";
});

testButton.addEventListener("click", () => busy(testButton, async () => {
  clearErrors();
  proxyResult.textContent = "";
  try {
    const { result } = await post("/api/network/proxy/test", values());
    showResult(proxyResult, result);
  } catch (err) {
    showFieldError(err);
  }
}));

form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(saveButton, async () => {
    clearErrors();
    proxyResult.textContent = "";
    try {
      const state = await post("/api/network/proxy", values());
      fill(state);
      if (state.result) showResult(proxyResult, state.result);
      toast(`网络设置已保存：${state.proxy.shown}`, "success");
    } catch (err) {
      showFieldError(err);
      if (!err.field) toastError(err);
    }
  });
});

const serverButton = document.getElementById("server-test");
serverButton.addEventListener("click", () => busy(serverButton, async () => {
  serverResult.textContent = "";
  try {
    const { result } = await post("/api/network/server/test", {});
    showResult(serverResult, result);
  } catch (err) {
    toastError(err);
  }
}));

showMode();
get("/api/network").then(fill).catch(toastError);
