// Loaded on every page: report script errors visibly instead of failing silently.
import "./shell.js";
import "./upgrade_hint.js";
import { toast } from "./toast.js";

window.addEventListener("unhandledrejection", (event) => {
  toast(event.reason?.message || "操作失败", "error");
});
