// Job detail: the job's own socket sends its state on every (re)connect and each change
// after; progress moves in place, a new status re-renders the timeline, buttons and result.
import {applyStatus, follow, refreshSoon} from "./live.js";

const root = document.querySelector("[data-stream]");

follow(root.dataset.stream, {
  onMessage(msg) {
    if (applyStatus(msg).changed) refreshSoon(root.dataset.refreshUrl);
  },
});

// A callback is sent after its job ended, which the job's stream does not tell: while one is
// unsettled (data-callback-check: when it is due, or now while it is being sent), look again
// a second after that time, and every few seconds while it stays unsettled (an overdue one
// waits for a sender; a claimed one, for its answer).
const CALLBACK_RECHECK = 3000;
const CALLBACK_LONGEST = 60000;

function watchCallbacks() {
  const checks = [...document.querySelectorAll("[data-callback-check]")].map((el) => Date.parse(el.dataset.callbackCheck));
  if (!checks.length) {
    setTimeout(watchCallbacks, CALLBACK_RECHECK);  // a re-render may show a new one
    return;
  }
  const wait = Math.min(Math.max(Math.min(...checks) - Date.now() + 1000, CALLBACK_RECHECK), CALLBACK_LONGEST);
  setTimeout(() => {
    refreshSoon(root.dataset.refreshUrl);
    watchCallbacks();
  }, wait);
}
watchCallbacks();

// Copy buttons show only with JavaScript (.js-only); one listener serves re-rendered ones too.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const status = button.parentElement.querySelector("[data-copy-status]");
  try {
    let text = document.querySelector(button.dataset.copy).textContent;
    if (button.dataset.copyUrl) {
      // The page shows the start of a long result; the API has all of it.
      const job = await (await fetch(button.dataset.copyUrl, {headers: {Accept: "application/json"}})).json();
      text = typeof job.result === "string" ? job.result : JSON.stringify(job.result, null, 2);
    }
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied.";
  } catch (error) {
    status.textContent = "Could not copy: select the text and copy it instead.";
  }
});
