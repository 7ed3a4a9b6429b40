// Short messages at the corner: success, info and error (errors stay longer).

export function toast(message, kind = "info", ms = kind === "error" ? 8000 : 3500) {
  const box = document.getElementById("toasts");
  const item = document.createElement("div");
  item.className = `toast ${kind}`;
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  item.textContent = message;
  box.append(item);
  setTimeout(() => item.remove(), ms);
  return item;
}

export const toastError = (err) => toast(err?.message || String(err), "error");
