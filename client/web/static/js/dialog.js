// Modal dialogs on the native <dialog> element: openDialog for content, confirm for yes/no.

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
