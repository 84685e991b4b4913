// The lot map: tiles drawn by the server, kept current by the live feed
// (docs/live.md): a WebSocket, else Server-Sent Events, else polling.
"use strict";
(function () {
  const root = document.getElementById("lotmap");
  if (!root) return;
  const lot = root.dataset.lot;
  const from = Date.parse(root.dataset.from);
  const to = Date.parse(root.dataset.to);
  const operator = root.dataset.operator === "1";
  const tiles = new Map();
  root.querySelectorAll(".t[data-id]").forEach((t) => tiles.set(t.dataset.id, t));
  const liveState = document.getElementById("live-state");
  const SIZES = ["motorcycle", "compact", "standard", "large"];
  const STATUS_WORDS = { available: "available", held: "being booked", reserved: "reserved", occupied: "occupied",
    overstaying: "occupied by a car past its time", out_of_service: "out of service" };
  const AMENITIES = { ev: "EV charger", accessible: "accessible", covered: "covered" };

  function statusOfTile(t) {
    for (const c of t.classList) if (c.startsWith("s-")) return c.slice(2);
    return "available";
  }

  // On a phone the plan comes first: the window's form and the legend fold
  // to a line each.
  if (window.matchMedia && window.matchMedia("(max-width: 39.99rem)").matches) {
    document.querySelectorAll("details.fold").forEach((d) => { d.open = false; });
  }

  // ---- fits my vehicle, has what I need ----
  const fitsSelect = document.getElementById("fits");
  const amenitySelect = document.getElementById("amenity");
  let fits = root.dataset.fits || "";
  let amenity = root.dataset.amenity || "";
  function sizeFits(t) { return !fits || SIZES.indexOf(t.dataset.size) >= SIZES.indexOf(fits); }
  function hasAmenity(t) { return !amenity || (t.dataset.amenities || "").split(" ").indexOf(amenity) >= 0; }
  function fitsTile(t) { return sizeFits(t) && hasAmenity(t); }
  function label(t) {
    const parts = [t.dataset.label, t.dataset.size];
    (t.dataset.amenities || "").split(" ").filter(Boolean).forEach((a) => parts.push(AMENITIES[a] || a));
    parts.push(STATUS_WORDS[statusOfTile(t)]);
    if (!sizeFits(t)) parts.push("does not fit your vehicle");
    else if (!hasAmenity(t)) parts.push("no " + (AMENITIES[amenity] || amenity));
    return parts.join(", ");
  }
  function applyFits() {
    tiles.forEach((t) => { t.classList.toggle("nofit", !fitsTile(t)); t.setAttribute("aria-label", label(t)); });
    recount();
  }
  function keepInURL(name, value) {
    const u = new URL(location.href);
    if (value) u.searchParams.set(name, value); else u.searchParams.delete(name);
    history.replaceState(null, "", u);
  }
  if (fitsSelect) {
    fitsSelect.addEventListener("change", () => {
      fits = fitsSelect.value;
      applyFits();
      keepInURL("fits", fits);
    });
  }
  if (amenitySelect) {
    amenitySelect.addEventListener("change", () => {
      amenity = amenitySelect.value;
      applyFits();
      keepInURL("amenity", amenity);
      // "Any spot" asks for it too.
      const any = document.getElementById("reserve-any");
      if (any) {
        const u = new URL(any.href);
        if (amenity) u.searchParams.set("amenity", amenity); else u.searchParams.delete("amenity");
        any.href = u.toString();
      }
    });
  }

  // ---- counts ----
  // The driver's counts (the headline and each level's chip) are of the
  // spots that pass the filter; the operator's table counts every spot.
  function recount() {
    let free = 0, fitting = 0;
    root.querySelectorAll(".plan").forEach((plan) => {
      const c = { available: 0, held: 0, reserved: 0, occupied: 0, overstaying: 0, out_of_service: 0 };
      let total = 0, fitFree = 0, fitTotal = 0;
      plan.querySelectorAll(".t").forEach((t) => {
        const st = statusOfTile(t);
        c[st]++; total++;
        if (fitsTile(t)) { fitTotal++; if (st === "available") fitFree++; }
      });
      c.occupied += c.overstaying; // the table says how many of the occupied are
      free += fitFree;
      fitting += fitTotal;
      const id = plan.dataset.level;
      const chip = document.querySelector('[data-level-free="' + id + '"]');
      if (chip) chip.textContent = fitFree;
      const chipTotal = document.querySelector('[data-level-total="' + id + '"]');
      if (chipTotal) chipTotal.textContent = fitTotal;
      const row = document.querySelector('[data-level-row="' + id + '"]');
      if (row) {
        Object.keys(c).forEach((k) => { const td = row.querySelector('[data-k="' + k + '"]'); if (td) td.textContent = c[k]; });
        const bar = row.querySelector('[data-k="bar"] span');
        const used = c.held + c.reserved + c.occupied;
        if (bar && total) bar.style.width = Math.round((100 * used) / Math.max(1, total - c.out_of_service)) + "%";
      }
    });
    const el = document.getElementById("free-count");
    if (el) el.textContent = free;
    const all = document.getElementById("total-count");
    if (all) all.textContent = fitting;
    const filtered = document.getElementById("filtered");
    if (filtered) filtered.hidden = !fits && !amenity;
  }

  function setStatus(t, st) {
    if (statusOfTile(t) === st) return;
    for (const c of Array.from(t.classList)) if (c.startsWith("s-")) t.classList.remove(c);
    t.classList.add("s-" + st);
    t.setAttribute("aria-label", label(t));
    t.classList.remove("flash");
    void t.offsetWidth; // restart the animation
    t.classList.add("flash");
    if (selected === t) fillPanel(t);
  }

  // ---- the live model: each spot's service state and claims ----
  const model = new Map(); // spot id -> {inService, claims: Map(key -> claim)}
  const where = new Map(); // claim key -> the spot it is on, to see a booking move
  let skew = 0; // server clock minus ours
  let expiryTimer;
  // A car inside past its window holds its spot until it leaves (the
  // "released" message), whatever its "to" says (docs/live.md).
  function overstays(c, now) { return c.status === "checked_in" && Date.parse(c.to) <= now; }
  function overlaps(c, now) { return Date.parse(c.from) < to && (overstays(c, now) || from < Date.parse(c.to)); }
  const RANK = { held: 1, confirmed: 2, checked_in: 3 };
  function spotStatus(s, now) {
    let best = 0, late = false;
    s.claims.forEach((c) => {
      if (!overlaps(c, now)) return;
      if (c.status === "held" && !(Date.parse(c.hold_expires_at) > now)) return;
      best = Math.max(best, RANK[c.status] || 0);
      if (overstays(c, now)) late = true;
    });
    // A car that is in is shown, even in a spot out of service; operators
    // see which cars are past their time, drivers only that the spot is taken.
    if (best === 3) return operator && late ? "overstaying" : "occupied";
    if (!s.inService) return "out_of_service";
    return ["available", "held", "reserved"][best];
  }
  function render(ids) {
    const now = Date.now() + skew;
    let next = Infinity;
    (ids || Array.from(model.keys())).forEach((id) => {
      const s = model.get(id), t = tiles.get(id);
      if (!s || !t) return;
      setStatus(t, spotStatus(s, now));
    });
    // A lapsed hold frees its spot, and a car still in at its end starts to
    // overstay, without a message: look again then.
    model.forEach((s) => s.claims.forEach((c) => {
      let at = Infinity;
      if (c.status === "held" && overlaps(c, now)) at = Date.parse(c.hold_expires_at);
      else if (c.status === "checked_in") at = Date.parse(c.to);
      if (at > now && at < next) next = at;
    }));
    clearTimeout(expiryTimer);
    if (next !== Infinity) expiryTimer = setTimeout(() => render(), Math.min(next - now + 250, 2147483000));
    recount();
  }

  let since = null;
  function apply(msg) {
    switch (msg.type) {
      case "snapshot":
        model.clear();
        where.clear();
        (msg.spots || []).forEach((s) => {
          const claims = new Map();
          (s.claims || []).forEach((c) => { claims.set(c.key, c); where.set(c.key, s.id); });
          model.set(s.id, { inService: s.in_service, claims: claims });
        });
        if (msg.now) skew = Date.parse(msg.now) - Date.now();
        since = msg.version;
        render();
        break;
      case "claim": {
        since = msg.version;
        const changed = [msg.spot_id];
        // The same booking on another spot: the lot moved it; it leaves the old one.
        const prev = where.get(msg.key);
        if (prev && prev !== msg.spot_id) {
          const old = model.get(prev);
          if (old) old.claims.delete(msg.key);
          changed.push(prev);
        }
        const s = model.get(msg.spot_id);
        if (msg.status === "released") {
          if (s) s.claims.delete(msg.key);
          where.delete(msg.key);
        } else {
          if (s) s.claims.set(msg.key, msg);
          where.set(msg.key, msg.spot_id);
        }
        render(changed);
        break;
      }
      case "spot": {
        since = msg.version;
        const s = model.get(msg.spot_id);
        if (!s) return;
        s.inService = msg.in_service;
        render([msg.spot_id]);
        break;
      }
      case "resync":
        since = null;
        reconnectNow();
        break;
    }
  }

  // ---- the connection ----
  function state(s, text) {
    if (!liveState) return;
    liveState.dataset.state = s;
    liveState.textContent = text;
  }
  let mode = "WebSocket" in window ? "ws" : "sse";
  let conn = null, failures = 0, neverOpened = 0, retryTimer, pollTimer;
  function url(path) {
    const q = new URLSearchParams({ from: root.dataset.from, to: root.dataset.to });
    if (since) q.set("since", since);
    return path + "?" + q.toString();
  }
  function connect() {
    clearTimeout(retryTimer);
    if (mode === "poll") return poll();
    const path = "/api/v1/lots/" + encodeURIComponent(lot) + "/live";
    let opened = false, self = null;
    const onOpen = () => { opened = true; failures = 0; neverOpened = 0; state("live", "Live"); };
    const onDown = () => {
      if (conn !== self) return; // closed on purpose, or replaced
      conn = null;
      if (!opened && ++neverOpened >= 2) {
        // This way does not work here (a proxy, an old browser): try the next one.
        mode = mode === "ws" ? "sse" : "poll";
        neverOpened = 0;
      }
      failures++;
      state("connecting", "Reconnecting…");
      const delay = Math.min(30000, 500 * Math.pow(2, failures)) * (0.75 + Math.random() / 2);
      retryTimer = setTimeout(connect, mode === "poll" ? 0 : delay);
    };
    if (mode === "ws") {
      const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + url(path));
      conn = self = ws;
      ws.onopen = onOpen;
      ws.onmessage = (e) => { try { apply(JSON.parse(e.data)); } catch (err) { console.error(err); } };
      ws.onclose = onDown;
    } else {
      const es = new EventSource(url(path));
      conn = self = es;
      es.onopen = onOpen;
      es.onmessage = (e) => { try { apply(JSON.parse(e.data)); } catch (err) { console.error(err); } };
      // Reconnect ourselves, with since in the query, rather than let the
      // browser retry with the address it started with.
      es.onerror = () => { es.close(); onDown(); };
    }
  }
  function reconnectNow() {
    const c = conn;
    conn = null;
    if (c) c.close();
    failures = 0;
    connect();
  }
  // Polling: the last resort, when neither stream gets through.
  async function poll() {
    clearTimeout(pollTimer);
    try {
      const r = await window.parkd.api("GET", "/api/v1/lots/" + encodeURIComponent(lot) + "/spots?" +
        new URLSearchParams({ from: root.dataset.from, to: root.dataset.to }).toString());
      r.data.spots.forEach((s) => { const t = tiles.get(s.id); if (t) setStatus(t, s.status); });
      recount();
      state("polling", "Updates every 15 s");
    } catch (e) {
      state("connecting", "Offline: retrying");
    }
    pollTimer = setTimeout(poll, 15000);
  }
  addEventListener("pagehide", () => { const c = conn; conn = null; if (c) c.close(); });
  connect();

  // ---- keyboard: one tab stop per level, arrows move between tiles ----
  root.querySelectorAll(".plan").forEach((plan) => {
    const list = Array.from(plan.querySelectorAll(".t"));
    list.forEach((t, i) => t.setAttribute("tabindex", i === 0 ? "0" : "-1"));
    plan.addEventListener("keydown", (e) => {
      const t = e.target.closest(".t");
      if (!t) return;
      let i = list.indexOf(t), n = null;
      if (e.key === "ArrowRight") n = list[i + 1];
      else if (e.key === "ArrowLeft") n = list[i - 1];
      else if (e.key === "Home") n = list[0];
      else if (e.key === "End") n = list[list.length - 1];
      else if (e.key === "ArrowUp" || e.key === "ArrowDown") n = vertical(list, t, e.key === "ArrowDown" ? 1 : -1);
      else return;
      e.preventDefault();
      if (!n) return;
      t.setAttribute("tabindex", "-1");
      n.setAttribute("tabindex", "0");
      n.focus();
    });
  });
  function vertical(list, t, dir) {
    const cx = t.offsetLeft + t.offsetWidth / 2, cy = t.offsetTop + t.offsetHeight / 2;
    let best = null, bestScore = Infinity;
    list.forEach((o) => {
      const ox = o.offsetLeft + o.offsetWidth / 2, oy = o.offsetTop + o.offsetHeight / 2;
      const dy = (oy - cy) * dir;
      if (dy <= 1) return;
      const score = dy * 4 + Math.abs(ox - cx);
      if (score < bestScore) { best = o; bestScore = score; }
    });
    return best;
  }

  // ---- the spot panel ----
  const panel = document.getElementById("spot-panel");
  let selected = null;
  function fillPanel(t) {
    const st = statusOfTile(t);
    document.getElementById("panel-title").textContent = "Spot " + t.dataset.label;
    const am = (t.dataset.amenities || "").split(" ").filter(Boolean).map((a) => AMENITIES[a] || a);
    let text = t.dataset.size.charAt(0).toUpperCase() + t.dataset.size.slice(1) + (am.length ? " · " + am.join(", ") : "") +
      " · " + STATUS_WORDS[st] + " for this time";
    if (!sizeFits(t)) text += " · too small for your vehicle";
    else if (!hasAmenity(t)) text += " · no " + (AMENITIES[amenity] || amenity);
    const price = document.querySelector('[data-price-size="' + t.dataset.size + '"]');
    if (price && !operator) text += " · " + price.dataset.price + " for this window";
    document.getElementById("panel-body").textContent = text;
    const link = document.getElementById("panel-reserve");
    if (!operator) {
      const ok = st === "available" && fitsTile(t);
      link.hidden = !ok;
      const q = new URLSearchParams({ lot: lot, spot: t.dataset.id, from: root.dataset.from, to: root.dataset.to });
      link.href = "/reserve?" + q.toString();
      link.textContent = "Reserve " + t.dataset.label;
    }
  }
  function openPanel(t) {
    if (selected) selected.classList.remove("selected");
    selected = t;
    t.classList.add("selected");
    fillPanel(t);
    panel.hidden = false;
  }
  function closePanel() {
    panel.hidden = true;
    if (selected) { selected.classList.remove("selected"); selected.focus(); }
    selected = null;
  }
  root.addEventListener("click", (e) => {
    const t = e.target.closest(".t");
    if (!t) return;
    openPanel(t);
    if (e.detail === 0) { // from the keyboard: take the focus along
      const link = document.getElementById("panel-reserve");
      (link.hidden ? panel.querySelector("[data-close]") : link).focus();
    }
  });
  if (panel) {
    panel.querySelector("[data-close]").addEventListener("click", closePanel);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) closePanel(); });
  }
})();
