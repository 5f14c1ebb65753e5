// Overview: counts, charts and latest jobs follow the stream of the user's jobs (staff:
// every job). Progress moves in place; any other change re-renders the regions.
import {applyStatus, follow, refreshSoon} from "./live.js";

// Queue depth and live workers are not on the job stream; look again now and then.
const QUEUE_POLL_MS = 15000;

const root = document.querySelector("[data-stream]");
const refresh = () => refreshSoon(root.dataset.refreshUrl);

follow(root.dataset.stream, {
  onOpen: refresh,  // catch up on whatever happened before this connection
  onMessage(msg) {
    const {shown, changed} = applyStatus(msg);
    if (!shown || changed) refresh();
  },
});
setInterval(refresh, QUEUE_POLL_MS);
