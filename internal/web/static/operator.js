// Operator pages: new lot and its details, gates, levels, spots (a grid,
// edit, out of service), rates and policies.
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
          const pair = document.createElement("button");
          pair.type = "button";
          pair.className = "btn small";
          pair.dataset.pairGate = r.data.gate.id;
          pair.dataset.name = r.data.gate.name;
          pair.textContent = "Pair a kiosk";
          wirePairGate(pair);
          li.append(r.data.gate.name + " (" + r.data.gate.direction + ") · ", kiosk, " · ", id, " ", open, " ", pair);
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

  // Kiosk pairing: a one-time link (and its QR code) that a kiosk opens to
  // get its gate's key, so that nobody types a key at the gate.
  function wirePairGate(b) {
    b.addEventListener("click", () => {
      busy(b, "Making a link…", async () => {
        const out = document.getElementById("pair-link");
        try {
          const r = await api("POST", "/api/v1/gates/" + encodeURIComponent(b.dataset.pairGate) + "/pairings");
          out.textContent = "";
          const p = document.createElement("p");
          p.append("Open this link on the kiosk of \u201c" + b.dataset.name + "\u201d, once, within 15 minutes (until " +
            new Date(r.data.expires_at).toLocaleTimeString() + "): ");
          const a = document.createElement("a");
          a.href = r.data.url;
          a.textContent = r.data.url;
          a.rel = "noreferrer";
          p.append(a);
          const img = document.createElement("img");
          img.src = "data:image/png;base64," + r.data.qr_png;
          img.alt = "QR code of the pairing link";
          img.width = 240;
          img.height = 240;
          out.append(p, img);
          out.hidden = false;
        } catch (err) { toast(err.message); }
      });
    });
  }
  document.querySelectorAll("[data-pair-gate]").forEach(wirePairGate);

  // Invitations: an existing account becomes an operator of the operator.
  const invite = document.getElementById("invite");
  if (invite) {
    invite.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(invite);
      const operator = invite.dataset.operator || invite.operator.value;
      busy(invite.querySelector("[type=submit]"), "Inviting…", async () => {
        try {
          const r = await api("POST", "/api/v1/operators/" + encodeURIComponent(operator) + "/members", { email: invite.email.value });
          const done = document.getElementById("invite-done");
          done.textContent = r.data.name + " (" + r.data.email + ") is now an operator.";
          done.hidden = false;
          invite.reset();
        } catch (err) { showErrors(invite, err); }
      });
    });
  }

  // stale says what a 412 means: someone else changed it first.
  function stale(err) {
    if (err.code === "precondition_failed") err.message = "Someone changed this since the page was loaded: reload the page and try again.";
    return err;
  }

  // readPolicy reads the rates ("hourly.standard" in major units) and the
  // policies of a form into the API's policy object; bad names a rate that is
  // not an amount.
  const policyKeys = ["hold_ttl", "no_show_after", "early_arrival", "max_stay", "horizon", "overstay_grace", "cancel_cutoff", "billing_increment"];
  function readPolicy(f) {
    const p = { rates: {} };
    let bad = null;
    Object.keys(f).forEach((k) => {
      const [field, size] = k.split(".");
      if (size && (field === "hourly" || field === "daily_max")) {
        const v = Math.round(parseFloat(f[k].replace(",", ".")) * 100);
        if (!(v >= 0)) bad = k;
        p.rates[size] = p.rates[size] || {};
        p.rates[size][field] = v;
      } else if (k === "overstay_percent") {
        p[k] = parseInt(f[k], 10);
      } else if (policyKeys.includes(k)) {
        p[k] = f[k];
      }
    });
    return { policy: p, bad: bad };
  }
  function badRate(form, name) {
    showErrors(form, Object.assign(new Error("Rates must be amounts such as 2.50."), { fields: [{ field: name, message: "is not an amount" }] }));
  }

  // readLot reads a lot's own fields; a position that is not a number is
  // sent as it is, for the API to name.
  function readLot(f) {
    const num = (v) => (v === "" || isNaN(Number(v.replace(",", "."))) ? v : Number(v.replace(",", ".")));
    return { name: f.name, address: f.address, lat: num(f.lat), lng: num(f.lng), time_zone: f.time_zone, currency: (f.currency || "").toUpperCase() };
  }
  function positionErrors(form, lot) {
    const fields = ["lat", "lng"].filter((k) => typeof lot[k] !== "number").map((k) => ({ field: k, message: "must be a number in decimal degrees, such as 47.6062" }));
    if (!fields.length) return false;
    showErrors(form, Object.assign(new Error("The position is not a pair of numbers."), { fields: fields }));
    return true;
  }

  // New operator (admins): the company a new lot belongs to.
  const newOperator = document.getElementById("new-operator");
  if (newOperator) {
    let key = uuid();
    newOperator.addEventListener("input", () => { key = uuid(); });
    newOperator.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(newOperator);
      busy(newOperator.querySelector("[type=submit]"), "Creating…", async () => {
        try {
          const r = await api("POST", "/api/v1/operators", { name: formData(newOperator).name }, { key: key });
          reloadWith("Operator \u201c" + r.data.name + "\u201d created. Now its first lot.");
        } catch (err) {
          if (!err.network) key = uuid();
          showErrors(newOperator, err);
        }
      });
    });
  }

  // New lot: then on to its levels and spots.
  const newLot = document.getElementById("new-lot");
  if (newLot) {
    let key = uuid();
    newLot.addEventListener("input", () => { key = uuid(); });
    newLot.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(newLot);
      const f = formData(newLot);
      const lot = readLot(f);
      if (positionErrors(newLot, lot)) return;
      const { policy, bad } = readPolicy(f);
      if (bad) { badRate(newLot, bad); return; }
      lot.policy = policy;
      if (f.operator_id) lot.operator_id = f.operator_id;
      busy(newLot.querySelector("[type=submit]"), "Creating…", async () => {
        try {
          const r = await api("POST", "/api/v1/lots", lot, { key: key });
          reloadWith("Lot \u201c" + r.data.name + "\u201d created. Add its levels and spots.", "/operator/lots/" + encodeURIComponent(r.data.id) + "/spots");
        } catch (err) {
          if (!err.network) key = uuid();
          showErrors(newLot, err);
        }
      });
    });
  }

  // Lot details: only the lot's own fields, over the version shown.
  const editLot = document.getElementById("edit-lot");
  if (editLot) {
    editLot.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(editLot);
      const lot = readLot(formData(editLot));
      if (positionErrors(editLot, lot)) return;
      busy(editLot.querySelector("[type=submit]"), "Saving…", async () => {
        try {
          await api("PATCH", "/api/v1/lots/" + encodeURIComponent(editLot.dataset.lot), lot, { version: editLot.dataset.version });
          reloadWith("Lot details saved.");
        } catch (err) { showErrors(editLot, stale(err)); }
      });
    });
  }

  // Levels: add one, rename one.
  const addLevel = document.getElementById("add-level");
  if (addLevel) {
    let key = uuid();
    addLevel.addEventListener("input", () => { key = uuid(); });
    addLevel.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(addLevel);
      const f = formData(addLevel);
      busy(addLevel.querySelector("[type=submit]"), "Adding…", async () => {
        try {
          const r = await api("POST", "/api/v1/lots/" + encodeURIComponent(addLevel.dataset.lot) + "/levels",
            { name: f.name, ordinal: parseInt(f.ordinal, 10) || 0 }, { key: key });
          reloadWith("Level \u201c" + r.data.name + "\u201d added.");
        } catch (err) {
          if (!err.network) key = uuid();
          showErrors(addLevel, err);
        }
      });
    });
  }
  const lotID = (document.querySelector("[data-lot]") || { dataset: {} }).dataset.lot;
  document.querySelectorAll("form.rename-level").forEach((form) => {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(form);
      busy(form.querySelector("[type=submit]"), "Saving…", async () => {
        try {
          await api("PATCH", "/api/v1/lots/" + encodeURIComponent(lotID) + "/levels/" + encodeURIComponent(form.dataset.level),
            { name: formData(form).name }, { version: form.dataset.version });
          reloadWith("Level renamed.");
        } catch (err) { showErrors(form, stale(err)); }
      });
    });
  });

  // Spots in a grid: rows by letter, spots along each row, labels from a
  // pattern, sizes repeating along the row. Positions follow the demo's plan
  // geometry (plan units: a spot 6 wide, a row and half an aisle 22 deep).
  function rowLetters(text) {
    text = text.trim().toUpperCase();
    if (/^\d+$/.test(text)) {
      const n = parseInt(text, 10);
      if (n < 1 || n > 26) return null;
      return Array.from({ length: n }, (_, i) => String.fromCharCode(65 + i));
    }
    const out = [];
    for (const part of text.split(",")) {
      const m = /^\s*([A-Z])\s*(?:-\s*([A-Z]))?\s*$/.exec(part);
      if (!m) return null;
      const a = m[1].charCodeAt(0), b = (m[2] || m[1]).charCodeAt(0);
      if (b < a) return null;
      for (let c = a; c <= b; c++) out.push(String.fromCharCode(c));
    }
    return out.length ? out : null;
  }
  function gridSpots(form) {
    const f = formData(form);
    const rows = rowLetters(f.rows);
    const cols = parseInt(f.columns, 10), first = parseInt(f.first, 10);
    const sizes = f.sizes.split(",").map((s) => s.trim()).filter(Boolean);
    const problems = [];
    if (!rows) problems.push({ field: "rows", message: "give letters such as A-D or A,C, or a count from 1 to 26" });
    if (!(cols >= 1)) problems.push({ field: "columns", message: "must be at least 1" });
    if (!(first >= 0)) problems.push({ field: "first", message: "must be 0 or more" });
    if (!sizes.length) problems.push({ field: "sizes", message: "give at least one size" });
    if (!f.pattern.includes("{n}") && !f.pattern.includes("{nn}")) problems.push({ field: "pattern", message: "must hold {n} or {nn}, or every spot of a row gets the same label" });
    if (rows && rows.length > 1 && !f.pattern.includes("{row}")) problems.push({ field: "pattern", message: "must hold {row} when there is more than one row" });
    if (problems.length) return { problems: problems };
    const opt = form.querySelector("[name=level]").selectedOptions[0];
    const y0 = parseFloat(opt.dataset.y) || 21;
    const amenities = f.amenities ? f.amenities.split(",").map((a) => a.trim().toLowerCase()).filter(Boolean) : [];
    const lat = parseFloat(form.dataset.lat), lng = parseFloat(form.dataset.lng);
    const spots = [];
    rows.forEach((row, ri) => {
      for (let c = 0; c < cols; c++) {
        const n = first + c;
        const label = f.pattern.replaceAll("{level}", opt.dataset.ordinal).replaceAll("{row}", row)
          .replaceAll("{nn}", String(n).padStart(2, "0")).replaceAll("{n}", String(n));
        spots.push({ level_id: f.level, label: label, size: sizes[c % sizes.length], x: 10 + (c + 0.5) * 6, y: y0 + ri * 22,
          lat: lat, lng: lng, amenities: amenities });
      }
    });
    return { spots: spots };
  }
  const grid = document.getElementById("grid-add");
  if (grid) {
    let key = uuid();
    const preview = document.getElementById("grid-preview");
    const showPreview = () => {
      const g = gridSpots(grid);
      preview.textContent = g.spots ? g.spots.length + " spots: " + g.spots[0].label + (g.spots.length > 1 ? " … " + g.spots[g.spots.length - 1].label : "") : "";
    };
    grid.addEventListener("input", () => { key = uuid(); showPreview(); });
    showPreview();
    grid.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(grid);
      const g = gridSpots(grid);
      if (g.problems) { showErrors(grid, Object.assign(new Error("The grid cannot be made."), { fields: g.problems })); return; }
      busy(grid.querySelector("[type=submit]"), "Adding…", async () => {
        try {
          const r = await api("POST", "/api/v1/lots/" + encodeURIComponent(grid.dataset.lot) + "/spots", { spots: g.spots }, { key: key });
          reloadWith(r.data.spots.length + " spots added.");
        } catch (err) {
          if (!err.network) key = uuid();
          showErrors(grid, err);
        }
      });
    });
  }

  // Edit a spot: label, size, amenities. The server refuses to shrink a spot
  // below a vehicle booked on it, and says so in words shown here.
  const dialog = document.getElementById("spot-dialog");
  if (dialog) {
    const form = document.getElementById("edit-spot");
    let editing = null;
    document.querySelectorAll("[data-edit-spot]").forEach((b) => {
      b.addEventListener("click", () => {
        editing = b;
        clearErrors(form);
        form.querySelector("h2").textContent = "Edit " + b.dataset.label;
        form.elements.label.value = b.dataset.label;
        form.elements.size.value = b.dataset.size;
        form.elements.amenities.value = b.dataset.amenities;
        dialog.showModal();
      });
    });
    dialog.querySelector("[data-close-dialog]").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(form);
      const f = formData(form);
      const body = { label: f.label, size: f.size, amenities: f.amenities ? f.amenities.split(",").map((a) => a.trim().toLowerCase()).filter(Boolean) : [] };
      busy(form.querySelector("[type=submit]"), "Saving…", async () => {
        try {
          await api("PATCH", "/api/v1/lots/" + encodeURIComponent(lotID) + "/spots/" + encodeURIComponent(editing.dataset.editSpot), body,
            { version: editing.dataset.version });
          reloadWith(f.label + " saved.");
        } catch (err) { showErrors(form, stale(err)); }
      });
    });
  }

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
      const { policy: p, bad } = readPolicy(formData(policy));
      if (bad) { badRate(policy, bad); return; }
      busy(policy.querySelector("[type=submit]"), "Saving…", async () => {
        try {
          await api("PATCH", "/api/v1/lots/" + encodeURIComponent(policy.dataset.lot), { policy: p });
          reloadWith("Saved.");
        } catch (err) { showErrors(policy, err); }
      });
    });
  }
})();
