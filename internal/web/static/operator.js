// Operator pages: gates, spots (bulk add, out of service), rates and policies.
"use strict";
(function () {
  const { api, uuid, showErrors, clearErrors, busy, formData, toast, reloadWith } = window.parkd;

  // Gates: the key is shown once, here.
  const addGate = document.getElementById("add-gate");
  if (addGate) {
    addGate.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(addGate);
      busy(addGate.querySelector("[type=submit]"), "Adding…", async () => {
        try {
          const r = await api("POST", "/api/v1/lots/" + encodeURIComponent(addGate.dataset.lot) + "/gates", formData(addGate));
          const out = document.getElementById("gate-key");
          out.textContent = "";
          out.append("Gate \u201c" + r.data.gate.name + "\u201d added. Its device key, shown only now: ");
          const code = document.createElement("code");
          code.textContent = r.data.key;
          out.append(code, " — kiosk: ");
          const a = document.createElement("a");
          a.href = "/kiosk/" + encodeURIComponent(r.data.gate.id);
          a.textContent = "/kiosk/" + r.data.gate.id;
          out.append(a);
          out.hidden = false;
          addGate.reset();
          // The new gate joins the list at once, as it would after a reload.
          const li = document.createElement("li");
          const kiosk = document.createElement("a");
          kiosk.href = a.href;
          kiosk.textContent = "kiosk";
          const id = document.createElement("code");
          id.textContent = r.data.gate.id;
          const open = document.createElement("button");
          open.type = "button";
          open.className = "btn small";
          open.dataset.openGate = r.data.gate.id;
          open.textContent = "Open by hand…";
          wireOpenGate(open);
          li.append(r.data.gate.name + " (" + r.data.gate.direction + ") · ", kiosk, " · ", id, " ", open);
          document.getElementById("gate-list").append(li);
          document.getElementById("gate-list").hidden = false;
          document.getElementById("no-gates").hidden = true;
        } catch (err) { showErrors(addGate, err); }
      });
    });
  }
  function wireOpenGate(b) {
    b.addEventListener("click", () => {
      const why = prompt("Why open this gate by hand? (logged)");
      if (!why) return;
      busy(b, "Opening…", async () => {
        try {
          await api("POST", "/api/v1/gates/" + encodeURIComponent(b.dataset.openGate) + "/open", { reason: why });
          toast("Gate opened; logged.");
        } catch (err) { toast(err.message); }
      });
    });
  }
  document.querySelectorAll("[data-open-gate]").forEach(wireOpenGate);

  // Spots: a row at a time.
  const bulk = document.getElementById("bulk-add");
  if (bulk) {
    let key = uuid();
    bulk.addEventListener("input", () => { key = uuid(); });
    bulk.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(bulk);
      const f = formData(bulk);
      const n = parseInt(f.count, 10), first = parseInt(f.first, 10);
      const x = parseFloat(f.x), y = parseFloat(f.y), step = parseFloat(f.step);
      const amenities = f.amenities ? f.amenities.split(",").map((a) => a.trim()).filter(Boolean) : [];
      const spots = [];
      for (let i = 0; i < n; i++) {
        spots.push({ level_id: f.level, label: f.prefix + String(first + i).padStart(2, "0"), size: f.size,
          x: x + i * step, y: y, amenities: amenities });
      }
      busy(bulk.querySelector("[type=submit]"), "Adding…", async () => {
        try {
          const r = await api("POST", "/api/v1/lots/" + encodeURIComponent(bulk.dataset.lot) + "/spots", { spots: spots }, { key: key });
          reloadWith(r.data.spots.length + " spots added.");
        } catch (err) {
          if (!err.network) key = uuid();
          showErrors(bulk, err);
        }
      });
    });
  }
  const lotID = bulk && bulk.dataset.lot;
  document.querySelectorAll("[data-oos]").forEach((b) => {
    b.addEventListener("click", () => {
      const reason = prompt("Take " + b.dataset.label + " out of service. Reason (logged):", "maintenance");
      if (reason === null) return;
      busy(b, "Working…", async () => {
        const path = "/api/v1/lots/" + encodeURIComponent(lotID) + "/spots/" + encodeURIComponent(b.dataset.oos) + "/out-of-service";
        // The answer says what happened in a sentence: bookings moved to
        // other spots (their drivers told), a car still parked there.
        try {
          const r = await api("POST", path, { reason: reason }, { key: uuid() });
          reloadWith(r.data.message || b.dataset.label + " is out of service.");
        } catch (err) {
          if (err.code !== "spot_has_reservations") { toast(err.message); return; }
          // Some bookings fit no other spot: ask in words, then cancel them.
          const m = /(\d+) reservations? fits? no other/.exec(err.message);
          const n = m ? +m[1] : 0;
          const what = n === 1 ? "1 booking on " + b.dataset.label + " fits no other free spot" :
            n > 1 ? n + " bookings on " + b.dataset.label + " fit no other free spot" : "Some bookings on " + b.dataset.label + " fit no other free spot";
          if (!confirm(what + ". The others are moved to free spots.\n\nCancel " + (n === 1 ? "it and refund its driver" : "them and refund their drivers") +
            " in full, and take " + b.dataset.label + " out of service?")) return;
          try {
            const r = await api("POST", path, { reason: reason, force: true }, { key: uuid() });
            reloadWith(r.data.message || b.dataset.label + " is out of service.");
          } catch (err2) { toast(err2.message); }
        }
      });
    });
  });
  document.querySelectorAll("[data-ins]").forEach((b) => {
    b.addEventListener("click", () => busy(b, "Working…", async () => {
      try {
        await api("POST", "/api/v1/lots/" + encodeURIComponent(lotID) + "/spots/" + encodeURIComponent(b.dataset.ins) + "/in-service");
        reloadWith("Back in service.");
      } catch (err) { toast(err.message); }
    }));
  });

  // Rates and policies: only what changed is sent; the API merges it.
  const policy = document.getElementById("policy");
  if (policy) {
    policy.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(policy);
      const f = formData(policy);
      const p = { rates: {} };
      let bad = null;
      Object.keys(f).forEach((k) => {
        const [field, size] = k.split(".");
        if (size) {
          const v = Math.round(parseFloat(f[k].replace(",", ".")) * 100);
          if (!(v >= 0)) bad = k;
          p.rates[size] = p.rates[size] || {};
          p.rates[size][field] = v;
        } else if (k === "overstay_percent") {
          p[k] = parseInt(f[k], 10);
        } else {
          p[k] = f[k];
        }
      });
      if (bad) { showErrors(policy, Object.assign(new Error("Rates must be amounts such as 2.50."), { fields: [{ field: bad, message: "is not an amount" }] })); return; }
      busy(policy.querySelector("[type=submit]"), "Saving…", async () => {
        try {
          await api("PATCH", "/api/v1/lots/" + encodeURIComponent(policy.dataset.lot), { policy: p });
          reloadWith("Saved.");
        } catch (err) { showErrors(policy, err); }
      });
    });
  }
})();
