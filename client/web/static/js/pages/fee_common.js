// Shared by the 社保费申报 pages: element helper, a form dialog that keeps its errors, the
// sender's progress, and how a summary's fee period reads.

import { JobProgress } from "../job.js";
import { period } from "../format.js";
import { toast, toastError } from "../toast.js";

export { el, field, formDialog } from "../dialog.js";

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
