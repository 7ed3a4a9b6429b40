// Modal dialogs on the native <dialog> element: openDialog for content, confirm for yes/no,
// formDialog for a form whose errors stay in the dialog; el and field build their content.

export function openDialog({ title, body, buttons = [{ label: "关闭", value: null }] }) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "dialog";
    const heading = document.createElement("h2");
    heading.textContent = title;
    const content = document.createElement("div");
    content.className = "dialog-body";
    if (typeof body === "string") content.textContent = body;
    else if (body) content.append(body);
    const footer = document.createElement("div");
    footer.className = "dialog-buttons";
    for (const b of buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `btn ${b.primary ? "primary" : ""} ${b.danger ? "danger" : ""}`;
      button.textContent = b.label;
      button.addEventListener("click", () => dialog.close(JSON.stringify(b.value ?? null)));
      footer.append(button);
    }
    dialog.append(heading, content, footer);
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue ? JSON.parse(dialog.returnValue) : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export async function confirm(message, { title = "请确认", ok = "确定", danger = false } = {}) {
  const answer = await openDialog({
    title,
    body: message,
    buttons: [
      { label: "取消", value: false },
      { label: ok, value: true, primary: !danger, danger },
    ],
  });
  return answer === true;
}

export function el(tag, { perm, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  if (perm) node.dataset.perm = perm; // hidden by operator_bar.js when the role lacks it
  node.append(...children);
  return node;
}

export function field(label, input, note = "") {
  const wrap = el("label", { className: "dialog-field" }, el("span", { textContent: label }), input);
  if (note) wrap.append(el("small", { className: "muted", textContent: note }));
  return wrap;
}

export function showError(body, err) {
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
