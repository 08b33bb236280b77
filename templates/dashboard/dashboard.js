// quire dashboard: local times, confirmations, select-all, and live refresh from the event
// stream. Every page works without this script; it only adds to them.

/** Shows every <time datetime> in the browser's time zone. */
function localTimes(root) {
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(at.getTime())) {
      el.textContent = format.format(at);
      el.title = el.getAttribute("datetime");
    }
  }
}

/** Forms with data-confirm ask first; "select all" boxes tick their group. */
function wire(root) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }
  for (const box of root.querySelectorAll("input[data-select-all]")) {
    box.addEventListener("change", () => {
      const form = box.closest("form");
      for (const b of form.querySelectorAll(`input[type=checkbox][name="${box.dataset.selectAll}"]`)) {
        b.checked = box.checked;
      }
    });
  }
}

/** Re-reads this page and swaps its <main> in, unless the operator is busy with it. */
let refreshing = false;
let again = false;
async function refresh() {
  if (refreshing) { again = true; return; }
  const main = document.querySelector("main");
  const busy = main.querySelector("input:checked, input:focus, select:focus, textarea:focus");
  if (busy) return;
  refreshing = true;
  try {
    const response = await fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
    if (response.redirected || !response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("main");
    if (fresh) {
      main.innerHTML = fresh.innerHTML;
      localTimes(main);
      wire(main);
    }
  } catch (_) {
    // The next event tries again.
  } finally {
    refreshing = false;
    if (again) { again = false; setTimeout(refresh, 100); }
  }
}

function live() {
  const source = document.body.dataset.live;
  if (!source || !window.EventSource) return;
  const events = new EventSource(source);
  let timer = null;
  const soon = () => {
    // Events come in bursts (a batch): one refresh per 250 ms at most.
    if (timer) return;
    timer = setTimeout(() => { timer = null; refresh(); }, 250);
  };
  for (const type of ["message", "job.queued", "job.running", "job.succeeded", "job.failed",
    "job.dead", "job.cancelled", "job.scheduled", "job.waiting", "batch.completed",
    "certificate.revoked", "workflow.completed", "workflow.failed", "submitted"]) {
    events.addEventListener(type, soon);
  }
  document.body.dataset.liveState = "connecting";
  events.addEventListener("open", () => { document.body.dataset.liveState = "open"; });
}

localTimes(document);
wire(document);
live();
