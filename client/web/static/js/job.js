// A progress bar bound to a background job: poll /api/jobs/<id> until it ends.
// reattach(kind) finds a job of that kind still running (e.g. after a page reload).

import { endpoints, get, post } from "./api.js";

// Short jobs (a 500-arrear refresh takes ~0.1 s) should not wait a whole interval to show:
// poll soon at first, then back off to the steady interval.
const POLL_MS = [20, 50, 100, 200, 400];
const pollDelay = (n) => POLL_MS[Math.min(n, POLL_MS.length - 1)];

export class JobProgress {
  constructor(container, { onDone = () => {}, onError = () => {}, cancellable = true } = {}) {
    Object.assign(this, { container, onDone, onError, cancellable });
    this.container.classList.add("job-progress");
    this.bar = document.createElement("progress");
    this.bar.max = 1;
    this.bar.value = 0;
    this.label = document.createElement("span");
    this.label.className = "job-label";
    this.cancelButton = document.createElement("button");
    this.cancelButton.className = "btn small";
    this.cancelButton.textContent = "取消";
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.container.replaceChildren(this.bar, this.label, ...(cancellable ? [this.cancelButton] : []));
    this.jobId = null;
  }

  async reattach(kind) {
    const data = await get(endpoints.jobs(`?kind=${encodeURIComponent(kind)}&active=1`));
    if (data.jobs.length) this.attach(data.jobs[0]);
    return data.jobs[0] ?? null;
  }

  attach(job) {
    this.jobId = job.id;
    this.container.hidden = false;
    this.show(job);
    clearTimeout(this.timer);
    this.polls = 0;
    if (job.state !== "running") {
      // Already ended (a start that waits for a short job): no poll. Its end runs after the
      // caller's own code, as it would after a poll.
      const id = job.id;
      queueMicrotask(() => { if (this.jobId === id) this.ended(job); });
      return;
    }
    this.timer = setTimeout(() => this.poll(), pollDelay(this.polls++));
  }

  show(job) {
    if (job.total > 0) {
      this.bar.max = job.total;
      this.bar.value = job.done;
    } else {
      this.bar.removeAttribute("value");
    }
    const pct = job.total > 0 ? ` ${Math.floor((100 * job.done) / job.total)}%` : "";
    this.label.textContent = `${job.title}：${job.message || "进行中"}${pct}`;
    this.cancelButton.disabled = job.state !== "running";
  }

  async poll() {
    let job;
    try {
      job = (await get(endpoints.job(this.jobId))).job;
    } catch (err) {
      this.label.textContent = `无法获取任务进度：${err.message}`;
      this.onError(err);
      return;
    }
    this.show(job);
    if (job.state === "running") {
      this.timer = setTimeout(() => this.poll(), pollDelay(this.polls++));
    } else {
      this.ended(job);
    }
  }

  ended(job) {
    if (job.state === "succeeded") {
      this.onDone(job);
    } else if (job.state === "cancelled") {
      this.label.textContent = `${job.title}：已取消`;
      this.onError(new Error("任务已取消"));
    } else {
      this.label.textContent = `${job.title}：失败，${job.error?.message ?? ""}`;
      this.onError(new Error(job.error?.message ?? "任务失败"));
    }
  }

  async cancel() {
    if (this.jobId) await post(endpoints.jobCancel(this.jobId), {});
  }
}

// Start a job with POST endpoint body and resolve with its result when it ends (reject on
// failure), the progress shown in container meanwhile and hidden after.
export function runJob(container, endpoint, body) {
  return new Promise((resolve, reject) => {
    const progress = new JobProgress(container, {
      onDone: (job) => { container.hidden = true; resolve(job.result); },
      onError: (err) => { container.hidden = true; reject(err); },
    });
    post(endpoint, body).then((answer) => progress.attach(answer.job), reject);
  });
}
