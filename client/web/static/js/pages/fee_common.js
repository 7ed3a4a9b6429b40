// Shared by the 社保费申报 pages: element helper, a form dialog that keeps its errors, the
// sender's progress, and how a summary's fee period reads.

import { JobProgress } from "../job.js";
import { period } from "../format.js";
import { toast, toastError } from "../toast.js";

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export function field(label, input, note = "") {
  const wrap = el("label", { className: "dialog-field" }, el("span", { textContent: label }), input);
  if (note) wrap.append(el("small", { className: "muted", textContent: note }));
  return wrap;
}

function showError(body, err) {
  let line = body.querySelector(".field-error");
  if (!line) {
    line = el("p", { className: "field-error", role: "alert" });
    body.append(line);
  }
  line.textContent = err.message;
}

// A dialog whose OK runs `action`; it stays open and shows the error when that fails.
export function formDialog(title, body, action, okLabel = "确定") {
  const dialog = el("dialog", { className: "dialog" });
  const ok = el("button", { type: "button", className: "btn primary", textContent: okLabel });
  const cancel = el("button", { type: "button", className: "btn", textContent: "取消" });
  dialog.append(el("h2", { textContent: title }), el("div", { className: "dialog-body" }, body),
    el("div", { className: "dialog-buttons" }, cancel, ok));
  cancel.addEventListener("click", () => dialog.close());
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    try {
      if ((await action()) !== false) dialog.close();
    } catch (err) {
      showError(body, err);
    } finally {
      ok.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

// 202503 / 202407-202409 -> 2025年03月 / 2024年07月至2024年09月
export function periodRange(from, to) {
  return !to || from === to ? period(from) : `${period(from)}至${period(to)}`;
}

// The one sender's job: its answer (已发送 / 待反馈 / 待提交) as a toast, then `after`.
export function senderProgress(box, after = () => {}, suffix = "") {
  return new JobProgress(box, {
    cancellable: false,
    onDone: (job) => {
      box.hidden = true;
      toast(`${job.result.message}${suffix}`, job.result.waiting || job.result.refused ? "info" : "success", 6000);
      after(job);
    },
    onError: (err) => {
      box.hidden = true;
      toastError(err);
      after(null);
    },
  });
}
