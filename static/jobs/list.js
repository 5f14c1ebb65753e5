// Jobs list: rows follow the stream of the user's jobs (staff: every job). A job the page
// does not show yet appears by re-rendering the list (page 1 only: newer jobs go on top);
// a status change re-renders it too when the list is filtered by status.
import {applyStatus, follow, refreshSoon} from "./live.js";

const root = document.querySelector("[data-stream]");
const firstPage = root.dataset.firstPage === "true";
const statusFilter = root.dataset.statusFilter;
const refresh = () => refreshSoon(root.dataset.refreshUrl);

follow(root.dataset.stream, {
  onOpen: refresh,
  onMessage(msg) {
    const {shown, changed} = applyStatus(msg);
    if ((!shown && firstPage) || (shown && changed && statusFilter)) refresh();
  },
});
