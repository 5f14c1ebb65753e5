// What every live dashboard page shares: one WebSocket that reconnects with backoff,
// in-place updates of the elements marked data-job-id, and catch-up by re-rendering the
// page's data-region parts from the server (the streams send changes, not snapshots).

const LABELS = {scheduled: "Scheduled", pending: "Pending", running: "Running", completed: "Completed", failed: "Failed",
                cancelled: "Cancelled"};
const FIRST_DELAY = 500;
const MAX_DELAY = 15000;
// Re-renders are coalesced: a burst of changes costs one request.
const REFRESH_DELAY = 250;

const indicator = document.querySelector("[data-live-indicator]");
// Lets the stylesheet show what needs JavaScript (.js-only) only when it runs.
document.documentElement.classList.add("js");

function show(state, text) {
  if (!indicator) return;
  indicator.hidden = false;
  indicator.dataset.state = state;
  indicator.textContent = text;
}

function absolute(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

// Follow `path`, calling onMessage(msg) for each job_status and onOpen(reconnected) on each
// connection. A close in the 4000s is the server refusing (signed out, not allowed): final.
export function follow(path, {onMessage, onOpen = () => {}}) {
  let delay = FIRST_DELAY;
  let connections = 0;
  let refusal = "";

  function open() {
    show("connecting", connections ? "Reconnecting…" : "Connecting…");
    const ws = new WebSocket(absolute(path));
    ws.onopen = () => {
      delay = FIRST_DELAY;
      show("live", "Live");
      onOpen(connections++ > 0);
    };
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "job_status") onMessage(msg);
      else if (msg.type === "error") refusal = msg.error;
    };
    ws.onclose = (event) => {
      if (event.code >= 4000 && event.code < 5000) {
        show("off", `Live updates off: ${refusal || "refused"}. Reload to try again.`);
        return;
      }
      // Jitter keeps a restarted server from being hit by every page at the same instant.
      const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
      delay = Math.min(delay * 2, MAX_DELAY);
      show("offline", `Offline, reconnecting in ${Math.ceil(wait / 1000)} s…`);
      setTimeout(open, wait);
    };
  }
  open();
}

// Update every element of this job in place. Returns what the page had: whether it shows
// the job at all, and whether the status it showed differs from the new one.
export function applyStatus(msg) {
  const elements = document.querySelectorAll(`[data-job-id="${CSS.escape(msg.job_id)}"]`);
  let changed = false;
  for (const el of elements) {
    if (el.dataset.statusValue !== msg.status) changed = true;
    el.dataset.statusValue = msg.status;
    for (const pill of el.querySelectorAll("[data-status]")) {
      pill.textContent = LABELS[msg.status] || msg.status;
      pill.className = `status status-${msg.status}`;
    }
    // "at <time>" beside a scheduled job's status, until it is due.
    for (const when of el.querySelectorAll("[data-scheduled-only]")) when.hidden = msg.status !== "scheduled";
    for (const box of el.querySelectorAll("[data-progress]")) {
      box.hidden = msg.status !== "running";
      box.querySelector("progress").value = msg.progress;
      box.querySelector("[data-progress-text]").textContent = `${msg.progress}%`;
    }
  }
  return {shown: elements.length > 0, changed};
}

let timer = null;
let running = false;
let again = false;

// Re-render the page's regions from `url` soon; calls during a re-render queue one more.
export function refreshSoon(url) {
  if (running) { again = true; return; }
  if (timer) return;
  timer = setTimeout(() => refresh(url), REFRESH_DELAY);
}

async function refresh(url) {
  timer = null;
  running = true;
  try {
    const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "text/html"}});
    // A signed-out session is redirected to the sign-in page, which has no regions: keep
    // what is shown rather than blanking it.
    if (!response.ok || response.redirected) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    // Boxes ticked for a bulk action stay ticked when their rows are drawn again.
    const ticked = new Set([...document.querySelectorAll("[data-keep-checked]:checked")].map((box) => box.value));
    for (const box of fresh.querySelectorAll("[data-keep-checked]")) box.toggleAttribute("checked", ticked.has(box.value));
    for (const region of document.querySelectorAll("[data-region]")) {
      const next = fresh.querySelector(`[data-region="${region.dataset.region}"]`);
      if (next && next.innerHTML !== region.innerHTML) region.replaceWith(document.adoptNode(next));
    }
  } catch (error) {
    // The server is away; the reconnect that follows calls refreshSoon again.
  } finally {
    running = false;
    if (again) { again = false; refreshSoon(url); }
  }
}
