// A manual 更新 button bound to a background refresh job: progress while it runs, a
// message at the end; a failure keeps the data on the page.

import { post } from "./api.js";
import { JobProgress } from "./job.js";
import { toast, toastError } from "./toast.js";

export function bindRefresh(button, container, { endpoint, kind, onFinish = () => {} }) {
  const finish = () => {
    button.disabled = false;
    container.hidden = true;
    onFinish();
  };
  const progress = new JobProgress(container, {
    cancellable: false,
    onDone: (job) => { toast(job.result?.message || "更新完成", "success"); finish(); },
    onError: (err) => { toast(`更新失败：${err.message}。已保留上次的数据。`, "error"); finish(); },
  });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      progress.attach((await post(endpoint, {})).job);
    } catch (err) {
      button.disabled = false;
      toastError(err);
    }
  });
  progress.reattach(kind).then((job) => { if (job) button.disabled = true; }).catch(() => {});
  return progress;
}
