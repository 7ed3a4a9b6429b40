// The toolbar under a saved 缴费证明 or 年金缴款通知单: 打开 PDF and 打印 hand the file to the
// system (a PC without a reader or printer gets the saved path in the toast), 下载 PDF fetches it.

import { endpoints, post } from "../api.js";
import { toast, toastError } from "../toast.js";
import { el } from "./payment_common.js";

export function pdfToolbar(pdfName) {
  const hand = (action) => async () => {
    const answer = await post(endpoints.certificateOpen(pdfName), { action });
    toast(answer.message, answer.opened ? "success" : "error", answer.opened ? 4000 : 10000);
  };
  const open = el("button", { type: "button", className: "btn", textContent: "打开 PDF" });
  open.addEventListener("click", () => hand("open")().catch(toastError));
  const printNow = el("button", { type: "button", className: "btn primary", textContent: "打印" });
  printNow.addEventListener("click", () => hand("print")().catch(toastError));
  return el("div", { className: "toolbar" }, open, printNow,
    el("a", { className: "btn", href: endpoints.certificatePdf(pdfName), download: pdfName, textContent: "下载 PDF" }));
}
