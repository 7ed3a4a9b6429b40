// Once per start of the program (not per page): say what the upgrade check found — a new
// version (升级方式「有新版本时提示」), a version below the release's minimum, or why the
// last new version was taken back. The details and the 升级 button are on 关于.

import { get } from "./api.js";
import { toast } from "./toast.js";

const SEEN = "socialfee-upgrade-hint";
const ROLLBACK_SEEN = "socialfee-upgrade-rollback"; // each rollback is told once, not at every start

async function hint() {
  // 关于 shows it in full; the lock page answers no API call until the password is given.
  if (location.pathname === "/about" || location.pathname === "/lock") return;
  let s;
  try {
    s = (await get("/api/upgrade")).upgrade;
  } catch {
    return; // no hint is better than an error toast on every page
  }
  if (s.rollback && s.rollback.restored === s.current && localStorage.getItem(ROLLBACK_SEEN) !== s.rollback.at) {
    localStorage.setItem(ROLLBACK_SEEN, s.rollback.at);
    toast(`上次升级未成功：${s.rollback.reason}，已恢复为版本 ${s.rollback.restored}。详见「关于」页面。`, "error", 12000);
  }
  if (sessionStorage.getItem(SEEN) === s.checked_at) return;
  sessionStorage.setItem(SEEN, s.checked_at);
  if (s.blocked) {
    toast(`税务端要求的最低版本为 ${s.min_version}，升级前不能申报和缴费。请在「关于」页面点击【升级】。`, "error", 12000);
  } else if (s.available && s.mode === "notify") {
    toast(`有新版本 ${s.latest.version}，可在「关于」页面点击【升级】。`, "info", 8000);
  }
}

hint();
