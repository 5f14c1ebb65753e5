// Live updates for every element marked data-job-id that is not final yet: one WebSocket
// per job on /api/ws/jobs, which sends the current status on connect and each change after.
const STATUS_LABELS = {pending: "Pending", running: "Running", completed: "Completed", failed: "Failed", cancelled: "Cancelled"};
const FINAL = new Set(["completed", "failed", "cancelled"]);

function render(el, msg) {
  const status = el.querySelector("[data-status]");
  if (status) {
    status.textContent = STATUS_LABELS[msg.status] || msg.status;
    status.className = `status status-${msg.status}`;
  }
  const progress = el.querySelector("[data-progress]");
  if (progress) { progress.value = msg.progress; progress.textContent = `${msg.progress}%`; }
  const result = el.querySelector("[data-result]");
  if (result && msg.result !== null) {
    result.textContent = typeof msg.result === "string" ? msg.result : JSON.stringify(msg.result, null, 2);
  }
  const error = el.querySelector("[data-error]");
  if (error) error.textContent = msg.error || "–";
  el.dataset.final = FINAL.has(msg.status) ? "true" : "false";
}

function watch(el, delay = 500) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/ws/jobs?job_id=${el.dataset.jobId}`);
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "job_status") render(el, msg);
    if (el.dataset.final === "true") ws.close(1000);
  };
  ws.onclose = (event) => {
    // Reconnect with backoff unless the job is done or the server refused the id (4xxx).
    if (el.dataset.final !== "true" && event.code < 4000) {
      setTimeout(() => watch(el, Math.min(delay * 2, 10000)), delay);
    }
  };
}

document.querySelectorAll("[data-job-id]").forEach((el) => {
  if (el.dataset.final !== "true") watch(el);
});
