// 备份恢复 panel of the settings page: back up now, list, verify, restore, upload, settings.
// Backup, verify and restore run as jobs; the page shows their progress and their result.

import { endpoints, get, post } from "../api.js";
import { confirm, openDialog } from "../dialog.js";
import { JobProgress } from "../job.js";
import { toast, toastError } from "../toast.js";
import { FileUpload } from "../upload.js";

const $ = (id) => document.getElementById(id);
const listBox = $("backup-list");
const nowButton = $("backup-now");
let state = { backups: [] };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

const size = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);
const when = (iso) => (iso || "").replace("T", " ").slice(0, 19);
const unitNames = (b) => (b.schema_version === null ? "（已加密）" : b.units.map((u) => u.name).join("、") || "（无单位）");

function table(headers, rows) {
  const head = el("tr", {}, ...headers.map((h) => el("th", { text: h })));
  const body = el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => (c instanceof Node ? el("td", {}, c) : el("td", { text: String(c) }))))));
  return el("table", { class: "simple" }, el("thead", {}, head), body);
}

function describe(b) {
  const lines = [
    ["文件", b.path],
    ["大小", size(b.size)],
    ["时间", when(b.created_at)],
    ["程序版本", b.app_version],
    ["加密", b.encrypted ? "是" : "否"],
    ["单位", unitNames(b)],
  ];
  const box = el("div", {}, table(["项目", "内容"], lines));
  const counts = Object.entries(b.tables || {});
  const label = (t) => b.table_labels?.[t] ?? t;
  if (counts.length) box.append(el("p", { class: "muted", text: "各表行数：" + counts.map(([t, n]) => `${label(t)} ${n}`).join("，") }));
  return box;
}

// Submissions the backup does not have (or has with an older state): the operator checks
// them in 申报记录 before declaring anything again, so nothing reaches the tax side twice.
function journalBox(entries, lead) {
  const rows = entries.map((e) => [
    when(e.created_at),
    e.unit_name || String(e.unit_id),
    e.kind_label,
    e.backup_state_label ? `${e.state_label}（备份中：${e.backup_state_label}）` : e.state_label,
    e.summary,
  ]);
  const box = el("div", { class: "journal-warning" }, el("p", { class: "error-text", text: lead }));
  const t = table(["申报时间", "单位", "申报类型", "状态", "内容"], rows);
  t.classList.add("journal-entries");
  box.append(t);
  return box;
}

// Every setting the restore would change. The tax-side address, the proxy and the folders
// are never taken from a backup (it must not send the declaration password elsewhere).
function settingsBox(changes) {
  const rows = changes.map((c) => [c.label, c.current, c.kept ? `${c.current}（保留当前值；备份中为 ${c.backup}）` : c.backup]);
  const t = table(["设置项", "当前", "恢复后"], rows);
  t.id = "restore-settings";
  const box = el("div", {}, el("p", { text: "设置的变化：" }), t);
  if (changes.some((c) => c.kept)) {
    box.append(el("p", { class: "muted", text: "税务端地址、代理服务器和文件夹位置不会从备份中恢复，保留当前值，以免备份把申报密码引向别处。" }));
  }
  return box;
}

async function load() {
  try {
    state = await get(endpoints.backups);
  } catch (err) {
    toastError(err);
    return;
  }
  $("backup-folder").textContent = state.folder;
  // Team mode: the backup is a logical one of the shared database; restoring is an admin's act.
  $("backup-team-note").hidden = !state.team;
  $("backup-single-note").hidden = Boolean(state.team);
  $("backup-location").textContent = state.location || "";
  $("backup-keyring").textContent = state.keyring_problem
    ? state.keyring_problem
    : state.password_remembered
      ? "已在系统密钥环中保存备份密码：自动备份会用它加密。"
      : "未保存备份密码：自动备份不加密。立即备份时可以设置密码并选择记住。";
  $("backup-forget").hidden = !state.password_remembered;
  const paused = $("backup-paused");
  paused.hidden = !state.paused;
  if (state.paused) {
    const entries = state.paused.journal_entries || [];
    const button = el("button", { class: "btn small primary", type: "button", text: "已查看：我已核对，恢复自动同步与发送", "data-perm": "system.backup" });
    button.addEventListener("click", async () => {
      try {
        await post(endpoints.backupPauseClear, {});
      } catch (err) {
        toastError(err);
      }
      load();
    });
    // Team mode: a restore under way on some desk, or one whose desk went away before its end.
    if (state.paused.running || state.paused.interrupted) {
      const who = state.paused.operator ? `（操作员 ${state.paused.operator}，${when(state.paused.updated_at)}）` : "";
      paused.replaceChildren(state.paused.running
        ? el("p", { class: "error-text", text: `团队数据正在从备份恢复${who}：各电脑的发送已暂停，恢复完成后请在这里核对申报记录。` })
        : el("p", {}, el("span", { class: "error-text", text: `团队数据的恢复没有完成${who}：恢复它的电脑在替换数据之前退出，团队数据没有被替换，但各电脑的发送仍暂停。` }), " ", button));
      return renderList();
    }
    paused.replaceChildren(
      el("p", { class: "error-text", text: `已于 ${when(state.paused.restored_at)} 从备份 ${state.paused.backup_file} 恢复：自动同步与发送已暂停，请先核对该备份之后的申报记录。` }),
      entries.length
        ? journalBox(entries, `恢复前本机有 ${entries.length} 条申报记录不在该备份中（或状态比备份中新）。它们可能已经到达税务端，也可能还未发送；恢复后本机不再有这些记录（恢复前的安全备份中仍有）。请在「申报记录」中核对税务端的实际结果，再决定是否重新申报，切勿重复提交：`)
        : el("p", { text: "该备份之后本机没有新的申报记录。" }),
      el("p", {}, button, " ", el("a", { href: "/wage-base/records", text: "打开申报记录" })),
    );
  }
  renderList();
}

function renderList() {
  if (!state.backups.length) {
    listBox.replaceChildren(el("p", { class: "muted", text: "该文件夹中还没有备份。" }));
    return;
  }
  const rows = state.backups.map((b) => {
    if (b.problem) return [b.name, "—", size(b.size), "—", el("span", { class: "error-text", text: b.problem }), ""];
    const verify = el("button", { class: "btn small", type: "button", text: "校验", "data-action": "verify", "data-perm": "system.backup" });
    const restore = el("button", {
      class: "btn small", type: "button", text: state.team ? "恢复（管理员）" : "恢复", "data-action": "restore", "data-perm": "system.restore",
      title: state.team ? "替换团队数据库中所有电脑共用的数据，仅限管理员" : "",
    });
    verify.addEventListener("click", () => verifyBackup(b));
    restore.addEventListener("click", () => restoreBackup(b));
    const kind = b.kind === "manual" ? "手动" : "自动";
    return [b.name, when(b.created_at), size(b.size), `${kind}${b.encrypted ? " · 加密" : ""}`, `${b.reason}；${unitNames(b)}`, el("span", {}, verify, " ", restore)];
  });
  const t = table(["文件", "时间", "大小", "类型", "说明", "操作"], rows);
  t.id = "backup-table";
  listBox.replaceChildren(t);
}

async function askPassword(b, title) {
  if (!b.encrypted) return "";
  const input = el("input", { type: "password", id: "backup-password-input", autocomplete: "off" });
  const body = el("div", {}, el("p", { text: `备份 ${b.name} 已加密，请输入创建时设置的密码。` }), input);
  setTimeout(() => input.focus(), 0);
  const ok = await openDialog({ title, body, buttons: [{ label: "取消", value: false }, { label: "确定", value: true, primary: true }] });
  return ok ? input.value : null;
}

// A job bound to the progress bar under the list (verify, restore).
const jobBar = new JobProgress($("backup-job"), { cancellable: false, onDone: (job) => jobDone(job), onError: (err) => jobFailed(err) });
let jobDone = () => {};
let jobFailed = toastError;

function runJob(job, done) {
  jobDone = (finished) => {
    $("backup-job").hidden = true;
    done(finished);
  };
  jobFailed = (err) => {
    setBusy(false);
    openDialog({ title: "操作失败", body: `${err.message}` });
  };
  setBusy(true);
  jobBar.attach(job);
}

function setBusy(busy) {
  nowButton.disabled = busy;
  for (const b of listBox.querySelectorAll("button")) b.disabled = busy;
}

async function verifyBackup(b) {
  const password = await askPassword(b, "校验备份");
  if (password === null) return;
  try {
    const { job } = await post(endpoints.backupVerify, { name: b.name, password });
    runJob(job, (finished) => {
      setBusy(false);
      const body = el("div", {}, el("p", { class: "ok-text", text: "校验通过：备份完整，可以用于恢复。" }));
      for (const c of finished.result.checks) body.append(el("p", { text: `✓ ${c}` }));
      body.append(describe(finished.result.backup));
      openDialog({ title: "校验结果", body });
    });
  } catch (err) {
    toastError(err);
  }
}

async function restoreBackup(b) {
  const password = await askPassword(b, "从备份恢复");
  if (password === null) return;
  let preview;
  try {
    ({ preview } = await post(endpoints.backupPreview, { name: b.name, password }));
  } catch (err) {
    openDialog({ title: "不能恢复", body: err.message });
    return;
  }
  const rows = preview.tables.map((t) => [t.label || t.table, t.current ?? "—", t.backup ?? "—"]);
  const body = el(
    "div",
    { id: "restore-summary" },
    el("p", { text: `备份时间：${when(preview.backup.created_at)}　程序版本：${preview.backup.app_version}` }),
    el("p", { text: `备份中的单位：${unitNames(preview.backup)}` }),
    el("p", { text: `当前的单位：${preview.current_units.map((u) => u.name).join("、") || "（无单位）"}` }),
    table(["数据表", "当前行数", "备份中行数"], rows),
  );
  if (preview.settings.length) body.append(settingsBox(preview.settings));
  if (preview.will_migrate) body.append(el("p", { class: "muted", text: "该备份来自旧版本，恢复后会自动升级数据结构。" }));
  const newer = preview.newer_journal_entries;
  if (newer.length) {
    body.append(journalBox(newer, `注意：以下 ${newer.length} 条申报记录是在该备份之后提交的或之后状态有变化，备份中没有（或只有旧状态）。其中已发送的已经到达税务端，待提交的可能尚未发送。恢复后请先在「申报记录」中核对，再决定是否重新申报，切勿重复提交。`));
  }
  body.append(el("p", {
    class: "error-text",
    text: state.team
      ? "恢复会用备份替换团队数据库中所有电脑共用的全部数据。恢复前各电脑的发送先暂停（正在发送的会先发完），并自动把团队数据备份一份；恢复后各电脑的自动同步与发送都会暂停，直到核对完申报记录。"
      : "恢复会用备份替换当前全部数据。恢复前会自动把当前数据备份一份；恢复后自动同步与发送会暂停，直到您核对完申报记录。",
  }));
  const ok = await openDialog({ title: "确认从备份恢复", body, buttons: [{ label: "取消", value: false }, { label: "恢复", value: true, danger: true }] });
  if (!ok) return;
  try {
    const { job } = await post(endpoints.backupRestore, { name: b.name, password });
    runJob(job, async (finished) => {
      const r = finished.result;
      await openDialog({
        title: "恢复完成",
        body: el(
          "div",
          {},
          el("p", { class: "ok-text", text: `已从 ${r.restored.name}（创建于 ${when(r.restored.created_at)}）恢复。` }),
          el("p", { text: `恢复前的数据已保存为安全备份：${r.safety_backup.path}` }),
          el("p", { text: state.team
            ? "各电脑的自动同步与发送已暂停：请在本页顶部核对该备份之后的申报记录，核对后点「已查看」，各电脑随即恢复。"
            : "自动同步与发送已暂停：请在本页顶部核对该备份之后的申报记录，核对后点「已查看」。" }),
        ),
      });
      location.reload(); // settings came back with the data
    });
  } catch (err) {
    toastError(err);
  }
}

// 立即备份: ask first (with an optional password), then show what was written.
const nowBar = new JobProgress($("backup-progress"), {
  onDone: (job) => {
    setBusy(false);
    $("backup-progress").hidden = true;
    const body = el("div", { id: "backup-result" }, el("p", { class: "ok-text", text: "备份完成。" }), describe(job.result));
    openDialog({ title: "备份结果", body });
    load();
  },
  onError: (err) => {
    setBusy(false);
    openDialog({ title: "备份失败", body: err.message });
  },
});

nowButton.addEventListener("click", async () => {
  const target = $("backup-to").value.trim() || state.folder;
  const password = el("input", { type: "password", id: "backup-new-password", autocomplete: "new-password", placeholder: "留空表示不加密" });
  const remember = el("input", { type: "checkbox", id: "backup-remember", class: "auto-width" });
  const rememberLine = el("label", {}, remember, " 在系统密钥环中记住这个密码（自动备份也用它加密）");
  if (state.keyring_problem) {
    remember.disabled = true;
    rememberLine.title = state.keyring_problem;
  }
  const body = el(
    "div",
    {},
    el("p", { text: `将把数据库、设置和规则文件备份到：${target}` }),
    el("p", { class: "muted", text: "备份期间可以继续使用程序。可以设置备份密码（AES-256 加密）；请牢记密码，丢失后无法恢复。" }),
    el("label", { for: "backup-new-password", text: "备份密码（可选）" }),
    password,
    el("p", {}, rememberLine),
  );
  const ok = await openDialog({ title: "立即备份", body, buttons: [{ label: "取消", value: false }, { label: "开始备份", value: true, primary: true }] });
  if (!ok) return;
  try {
    const { job } = await post(endpoints.backupCreate, {
      folder: $("backup-to").value.trim(),
      password: password.value,
      remember: remember.checked,
    });
    setBusy(true);
    nowBar.attach(job);
  } catch (err) {
    toastError(err);
  }
});

new FileUpload($("backup-upload"), {
  endpoint: endpoints.backupUpload,
  accept: ".sfbak",
  label: "选择备份文件",
  onUploaded: ({ backup }) => {
    toast(`已加入列表：${backup.name}`, "success");
    load();
  },
  onError: toastError,
});

const settingsForm = $("backup-settings");
settingsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const slot of settingsForm.querySelectorAll(".field-error")) slot.textContent = "";
  const values = {};
  for (const input of settingsForm.querySelectorAll("input[name]")) {
    values[input.name] = input.type === "checkbox" ? (input.checked ? 1 : 0) : input.value;
  }
  try {
    await post(endpoints.backupSettings, values);
    toast("自动备份设置已保存", "success");
    load();
  } catch (err) {
    const slot = err.field && settingsForm.querySelector(`[data-error-for="${err.field}"]`);
    if (slot) slot.textContent = err.message;
    toastError(err);
  }
});

$("backup-forget").addEventListener("click", async () => {
  if (!(await confirm("忘记系统密钥环中保存的备份密码？之后的自动备份将不再加密。", { ok: "忘记密码" }))) return;
  await post(endpoints.backupForgetPassword, {});
  load();
});

nowBar.reattach("backup").then((job) => job && setBusy(true));
load();
