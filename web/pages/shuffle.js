// Shuffle (managers and admins, R-TASK-3): after a confirmation, every open task goes to a new random
// popug. The shuffle is a job: POST /api/tasks/shuffle -> 202 {job_id, status, total, done, ...}; the page
// polls GET /api/tasks/shuffles/{job_id} about every 500 ms and shows a progress bar until it is done or
// failed, then how many tasks were reassigned. A second shuffle while one runs gets 409 shuffle_running:
// the page then follows the running job instead. The job id stays in the URL (/tasks/shuffle?job=…), so
// a reload keeps watching it.

import { api, describeError, isAbort } from "../api.js";
import { isUuid } from "../task-parts.js";
import { clear, confirmDialog, formatDateTime, h, pageHeader, setBusy, showMessage, statusRegion } from "../ui.js";

export const title = "Shuffle";
const POLL_MS = 500;
const RETRY_MS = 2000; // after a failed poll
const MAX_FAILED_POLLS = 10;
const JOB_IN_MESSAGE = /\bjob ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b/i;

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The running job a 409 shuffle_running is about: a `job_id` field if the API sends one, else from its words. */
export function runningJobId(error) {
  const field = error?.details?.job_id;
  if (isUuid(field)) return field;
  const found = JOB_IN_MESSAGE.exec(String(error?.message ?? ""));
  return found ? found[1] : null;
}

/** Tasks the job has dealt with: reassigned, or found completed before it got to them. */
function handled(job) {
  return (Number(job.done) || 0) + (Number(job.skipped) || 0);
}

function progressText(job) {
  const total = Number(job.total) || 0;
  if (job.status === "running") {
    return total
      ? `${handled(job)} of ${plural(total, "open task")} handled; ${job.done || 0} reassigned so far.`
      : "Looking for open tasks…";
  }
  return `${handled(job)} of ${plural(total, "open task")} handled.`;
}

function resultText(job) {
  const done = Number(job.done) || 0;
  const skipped = Number(job.skipped) || 0;
  if (job.status === "failed") {
    const reason = job.error ? ` (${job.error})` : "";
    return `The shuffle failed${reason}. ${plural(done, "task was", "tasks were")} reassigned before it stopped; you can shuffle again.`;
  }
  if (!job.total && !done) return "Done: there were no open tasks to reassign.";
  const extra = skipped ? ` ${plural(skipped, "task was", "tasks were")} completed before the shuffle reached it, so kept.` : "";
  return `Done: ${plural(done, "task")} reassigned.${extra}`;
}

export function render(main, ctx) {
  main.append(
    pageHeader(
      "Shuffle tasks",
      "Every open task goes to a randomly chosen popug who can take tasks; it may stay with the same one. " +
        "Each new assignment charges that popug the task's fee.",
    ),
  );

  const start = h("button", { type: "button", class: "btn", "data-testid": "shuffle-start" }, "Shuffle open tasks");
  const alert = h("div", { class: "alert", role: "alert", "data-testid": "shuffle-error", hidden: true });
  // Announces start and end only (the job card shows the same, so it is for screen readers only).
  const live = statusRegion("shuffle-status");
  live.classList.add("visually-hidden");
  const jobSlot = h("div", { class: "job-slot", "data-testid": "shuffle-job-slot" });
  main.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "shuffle-start-title" },
      h("h2", { id: "shuffle-start-title" }, "Reassign every open task"),
      h(
        "p",
        { class: "muted" },
        "Completed tasks stay with whoever completed them. A task completed while the shuffle runs is never also reassigned.",
      ),
      alert,
      live,
      h("div", { class: "actions" }, start),
    ),
    jobSlot,
  );

  let timer = null;
  let watching = null; // the job id being followed
  ctx.signal.addEventListener("abort", () => window.clearTimeout(timer));

  function idle(label = "Shuffle open tasks") {
    setBusy(start, false);
    start.textContent = label;
  }

  /** The job card: heading, progress bar and its words, then the result once there is one. */
  function jobCard(job, note) {
    const finished = job.status !== "running";
    const total = Math.max(Number(job.total) || 0, handled(job));
    const bar = h("progress", {
      id: "shuffle-progress",
      max: String(Math.max(total, 1)),
      // A finished job fills the bar (tasks it found gone count as dealt with); a failed one shows how far it got.
      value: String(job.status === "done" ? Math.max(total, 1) : handled(job)),
      "aria-labelledby": "shuffle-job-title",
      "aria-valuetext": progressText(job),
      "data-testid": "shuffle-progress",
      "data-status": job.status,
    });
    if (!finished && !total) bar.removeAttribute("value"); // indeterminate until the job has counted
    const heading = { running: "Shuffle in progress", done: "Shuffle finished", failed: "Shuffle failed" }[job.status];
    return h(
      "section",
      {
        class: `card job job-${job.status}`,
        "aria-labelledby": "shuffle-job-title",
        "aria-busy": finished ? "false" : "true",
        "data-testid": "shuffle-job",
        "data-job-id": job.job_id,
        "data-status": job.status,
      },
      h("h2", { id: "shuffle-job-title", tabindex: "-1", "data-testid": "shuffle-job-title" }, heading ?? "Shuffle"),
      note ? h("p", { class: "notice", "data-testid": "shuffle-note" }, note) : null,
      h("div", { class: "progress-wrap" }, bar),
      h("p", { class: "progress-text", "data-testid": "shuffle-progress-text" }, progressText(job)),
      finished
        ? h(
            "p",
            { class: job.status === "failed" ? "alert" : "notice result", "data-testid": "shuffle-result" },
            resultText(job),
          )
        : null,
      job.started_at
        ? h(
            "p",
            { class: "muted small", "data-testid": "shuffle-times" },
            `Started ${formatDateTime(job.started_at)}`,
            job.finished_at ? `, finished ${formatDateTime(job.finished_at)}` : "",
            ".",
          )
        : null,
    );
  }

  function show(job, note) {
    clear(jobSlot).append(jobCard(job, note));
  }

  /**
   * Follow a job until it is done or failed; `note` stays above its progress (e.g. "already running").
   * `known`: false when only the id is known yet (from the URL or a 409): ask at once, show no numbers.
   */
  function watch(job, note, { known = true } = {}) {
    watching = job.job_id;
    window.history.replaceState(null, "", `/tasks/shuffle?job=${encodeURIComponent(job.job_id)}`);
    let failures = 0;
    let last = job;

    const settle = (current) => {
      show(current, note);
      if (current.status === "running") return false;
      live.textContent = current.status === "done" ? `Shuffle finished. ${resultText(current)}` : "The shuffle failed.";
      idle("Shuffle again");
      return true;
    };

    const poll = async () => {
      if (ctx.signal.aborted || watching !== job.job_id) return;
      try {
        last = await api.get(`/tasks/shuffles/${encodeURIComponent(job.job_id)}`, { signal: ctx.signal });
        if (ctx.signal.aborted || watching !== job.job_id) return;
        failures = 0;
        showMessage(alert, "");
        if (live.textContent === "Loading the shuffle…") live.textContent = "";
        if (settle(last)) return;
        timer = window.setTimeout(poll, POLL_MS);
      } catch (failure) {
        if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
        failures += 1;
        if (failure?.status === 404 || failure?.status === 403 || failures >= MAX_FAILED_POLLS) {
          showMessage(alert, `Could not follow the shuffle: ${describeError(failure)}`);
          if (!jobSlot.querySelector("[data-status]")) clear(jobSlot); // nothing known about it to show
          watching = null;
          idle();
          return;
        }
        showMessage(alert, `Lost touch with the shuffle (${describeError(failure)}) Trying again…`);
        timer = window.setTimeout(poll, RETRY_MS);
      }
    };

    setBusy(start, true, "Shuffle running…");
    if (!known) {
      clear(jobSlot).append(
        h(
          "section",
          { class: "card job", "aria-busy": "true", "data-testid": "shuffle-job", "data-job-id": job.job_id },
          h("h2", { id: "shuffle-job-title", tabindex: "-1" }, "Shuffle"),
          note ? h("p", { class: "notice", "data-testid": "shuffle-note" }, note) : null,
          h("p", { class: "loading" }, "Loading its progress…"),
        ),
      );
      poll();
    } else if (!settle(last)) {
      timer = window.setTimeout(poll, POLL_MS);
    }
  }

  start.addEventListener("click", async () => {
    const sure = await confirmDialog({
      title: "Shuffle every open task?",
      message:
        "Every open task goes to a randomly chosen popug, and each new assignment costs that popug the task's fee. " +
        "This cannot be undone.",
      confirmLabel: "Shuffle",
      testid: "shuffle-dialog",
      signal: ctx.signal,
    });
    if (!sure || ctx.signal.aborted) return;
    showMessage(alert, "");
    setBusy(start, true, "Starting…");
    try {
      const job = await api.post("/tasks/shuffle", undefined, { signal: ctx.signal });
      if (ctx.signal.aborted) return;
      live.textContent = "Shuffle started.";
      watch(job);
      jobSlot.querySelector("h2")?.focus();
    } catch (failure) {
      if (isAbort(failure) || ctx.signal.aborted || failure?.handled) return;
      const running = failure?.code === "shuffle_running" ? runningJobId(failure) : null;
      if (running) {
        // Someone else pressed it first: follow theirs rather than start a second one.
        watch(
          { job_id: running, status: "running" },
          "A shuffle was already running, so no new one was started. This is its progress.",
          { known: false },
        );
        jobSlot.querySelector("h2")?.focus();
        return;
      }
      idle();
      showMessage(alert, describeError(failure));
    }
  });

  // Opened with ?job=…: keep following that job (after a reload, or a link from someone else).
  const fromUrl = ctx.query.get("job");
  if (isUuid(fromUrl)) {
    live.textContent = "Loading the shuffle…";
    watch({ job_id: fromUrl.toLowerCase(), status: "running" }, null, { known: false });
  }
}
