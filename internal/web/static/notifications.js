// Notifications: the unread count in the header of every signed-in page,
// kept current from the live stream, and the notifications page (mark read,
// new ones on top without a reload).
"use strict";
(function () {
  const { api, busy, toast } = window.parkd;
  const link = document.getElementById("nav-notifications");
  if (!link) return;
  const base = "/api/v1/users/me/notifications";
  const count = link.querySelector(".count"), countN = link.querySelector(".count-n");
  const list = document.getElementById("notifications"); // only on /notifications
  const markAll = document.getElementById("mark-all-read");

  let unread = Number(link.dataset.unread) || 0;
  function setUnread(n) {
    unread = Math.max(0, n);
    countN.textContent = unread > 99 ? "99+" : String(unread);
    count.hidden = unread === 0;
  }

  // The server's clock, which since is read against: the page says its time.
  const drawnAt = Date.parse(link.dataset.since);
  const skew = drawnAt - Date.now();
  const serverNow = () => Date.now() + skew;

  // ---- the page ----
  const seen = new Set();
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((t) => {
      t.textContent = new Date(t.getAttribute("datetime")).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    });
  }
  function markedRead(li) {
    li.classList.remove("unread");
    li.querySelectorAll(".st-new, [data-read]").forEach((el) => el.remove());
  }
  function prepend(n) {
    const li = document.getElementById("notification-template").content.firstElementChild.cloneNode(true);
    li.dataset.id = n.id;
    li.querySelector('[data-field="title"]').textContent = n.title;
    li.querySelector('[data-field="body"]').textContent = n.body;
    li.querySelector("[data-read]").setAttribute("aria-label", "Mark read: " + n.title);
    const t = li.querySelector('[data-field="time"]');
    t.setAttribute("datetime", n.sent_at);
    const res = li.querySelector('[data-field="reservation"]');
    if (n.reservation_id) res.querySelector("a").href = "/reservations/" + encodeURIComponent(n.reservation_id);
    else res.remove();
    if (n.read) markedRead(li);
    localTimes(li);
    list.prepend(li);
    document.getElementById("no-notifications").hidden = true;
    markAll.hidden = false;
  }
  if (list) {
    list.querySelectorAll("li[data-id]").forEach((li) => seen.add(li.dataset.id));
    localTimes(list);
    list.addEventListener("click", (e) => {
      const b = e.target.closest("[data-read]");
      if (!b) return;
      const li = b.closest("li");
      busy(b, "Marking…", async () => {
        try {
          const r = await api("POST", base + "/read", { ids: [li.dataset.id] });
          markedRead(li);
          setUnread(unread - r.data.marked);
        } catch (err) { toast(err.message); }
      });
    });
    markAll.addEventListener("click", () => busy(markAll, "Marking…", async () => {
      try {
        await api("POST", base + "/read", { all: true });
        list.querySelectorAll("li.unread").forEach(markedRead);
        setUnread(0);
        toast("All notifications are read.");
      } catch (err) { toast(err.message); }
    }));
  }

  function arrived(n) {
    if (seen.has(n.id)) return;
    seen.add(n.id);
    if (!n.read) setUnread(unread + 1);
    if (list) prepend(n);
    toast("New notification: " + n.title);
  }

  // After a gap longer than the stream looks back, read the count (and the
  // newest ones) again instead.
  async function resync() {
    try {
      const [u, all] = await Promise.all([api("GET", base + "?unread=true&limit=100"), list ? api("GET", base) : null]);
      if (all) all.data.notifications.slice().reverse().forEach((n) => { if (!seen.has(n.id)) { seen.add(n.id); prepend(n); } });
      u.data.notifications.forEach((n) => seen.add(n.id));
      setUnread(u.data.notifications.length);
    } catch (err) { /* the next connection tries again */ }
  }

  // ---- the live stream ----
  // since: everything sent before it is on the page already. It starts at the
  // time the page was drawn (exactly, as the server wrote it); after a drop it
  // moves to a little before the drop (what arrives twice is dropped by id),
  // never more than the API's two minutes back.
  const lookBack = 110 * 1000, overlap = 5000;
  let since = link.dataset.since, sinceMs = drawnAt;
  function moveSince(ms) {
    if (ms > sinceMs) { sinceMs = ms; since = new Date(ms).toISOString(); }
  }
  let es = null, open = false, failures = 0, retryTimer;
  function connect() {
    clearTimeout(retryTimer);
    if (es) return;
    const oldest = serverNow() - lookBack;
    if (sinceMs < oldest) { resync(); moveSince(oldest); }
    const self = new EventSource(base + "/live?" + new URLSearchParams({ since: since }));
    es = self;
    self.onopen = () => { open = true; failures = 0; };
    self.addEventListener("notification", (e) => {
      try { arrived(JSON.parse(e.data)); } catch (err) { console.error(err); }
    });
    // Reconnect ourselves, with since in the query, rather than let the
    // browser retry with the address it started with.
    self.onerror = () => {
      if (es !== self) return;
      disconnect();
      failures++;
      const delay = Math.min(30000, 500 * Math.pow(2, failures)) * (0.75 + Math.random() / 2);
      retryTimer = setTimeout(connect, delay);
    };
  }
  function disconnect() {
    clearTimeout(retryTimer);
    if (!es) return;
    es.close();
    es = null;
    if (open) moveSince(serverNow() - overlap);
    open = false;
  }
  // Only a visible page keeps a stream open: browsers allow few connections
  // to one site, and a hidden tab catches up when it is shown again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") { failures = 0; connect(); } else disconnect();
  });
  addEventListener("pagehide", disconnect);
  addEventListener("pageshow", (e) => { if (e.persisted && document.visibilityState === "visible") connect(); });
  if (document.visibilityState !== "hidden") connect();
})();
