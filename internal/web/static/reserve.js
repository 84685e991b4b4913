// Reserve: hold a spot, then pay with the card form while the hold counts down.
"use strict";
(function () {
  const { api, uuid, showErrors, clearErrors, busy, money } = window.parkd;
  const form = document.getElementById("reserve-form");
  const holdBtn = document.getElementById("hold");
  const holdStep = document.getElementById("hold-step");
  const payForm = document.getElementById("pay-step");
  if (!form || !holdBtn) return;

  // Changing the window or the vehicle asks the server for the new price.
  form.addEventListener("change", () => form.submit());

  // One key per attempt: a retry after a lost answer replays it (never two
  // holds); after a definite answer the next attempt gets a new key.
  let holdKey = uuid();
  let reservation = null;
  let skew = 0;

  holdBtn.addEventListener("click", () => busy(holdBtn, "Holding…", async () => {
    clearErrors(holdStep);
    const d = holdBtn.dataset;
    const body = { lot_id: d.lot, vehicle_id: d.vehicle, starts_at: d.from, ends_at: d.to };
    if (d.spot) body.spot_id = d.spot;
    else if (d.amenity) body.amenities = [d.amenity];
    try {
      const r = await api("POST", "/api/v1/reservations", body, { key: holdKey });
      reservation = r.data;
    } catch (err) {
      if (!err.network) holdKey = uuid();
      showErrors(holdStep, err);
      return;
    }
    skew = Date.parse(reservation.created_at) - Date.now();
    await held();
  }));

  async function held() {
    let label = "";
    try {
      const s = await api("GET", "/api/v1/lots/" + encodeURIComponent(reservation.lot_id) + "/spots/" + encodeURIComponent(reservation.spot_id));
      label = s.data.label;
    } catch (e) { /* the summary does without the label */ }
    holdBtn.hidden = true;
    // The hold is for this spot and window: changing them now would lose it.
    form.querySelectorAll("input, select").forEach((el) => { el.disabled = true; });
    form.querySelectorAll(".spot-choice a").forEach((a) => a.removeAttribute("href"));
    holdStep.querySelector("p").textContent = (label ? "Spot " + label : "Your spot") + " is held for you.";
    document.getElementById("held-summary").textContent =
      (label ? "Spot " + label + " · " : "") + "Total " + money(reservation.amount, reservation.currency);
    document.getElementById("pay").textContent = "Pay " + money(reservation.amount, reservation.currency);
    payForm.hidden = false;
    setupCard();
    tick();
    const first = payForm.querySelector("input, iframe");
    if (first) first.focus();
  }

  // ---- the countdown ----
  let timer, lastMinute = -1;
  function tick() {
    const left = Math.max(0, Date.parse(reservation.hold_expires_at) - (Date.now() + skew));
    const s = Math.ceil(left / 1000);
    document.getElementById("countdown-time").textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    document.getElementById("countdown").classList.toggle("urgent", s < 60);
    const minute = Math.ceil(s / 60);
    if (minute !== lastMinute) {
      lastMinute = minute;
      document.getElementById("countdown-sr").textContent = s > 0 ? minute + (minute === 1 ? " minute" : " minutes") + " left to pay." : "";
    }
    if (s <= 0) return expired();
    timer = setTimeout(tick, 1000 - ((Date.now() + skew) % 1000) + 5);
  }
  function expired() {
    clearTimeout(timer);
    document.getElementById("pay").disabled = true;
    const box = payForm.querySelector(".errors");
    box.innerHTML = "";
    const p = document.createElement("p");
    p.textContent = "The hold expired and the spot was released. ";
    const again = document.createElement("a");
    again.href = location.href;
    again.textContent = "Start again";
    p.appendChild(again);
    box.appendChild(p);
    box.hidden = false;
  }

  // ---- the card (card.js) ----
  const card = window.parkd.card(payForm);
  function setupCard() { card.setup(); }

  let payKey = uuid();
  payForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const btn = document.getElementById("pay");
    busy(btn, "Paying…", async () => {
      clearErrors(payForm);
      let pm;
      try { pm = await card.token(); } catch (err) { showErrors(payForm, err); return; }
      let r;
      try {
        r = await api("POST", "/api/v1/reservations/" + encodeURIComponent(reservation.id) + "/payments", { payment_method: pm }, { key: payKey });
      } catch (err) {
        if (!err.network) payKey = uuid();
        if (err.code === "hold_expired") return expired();
        if (err.code === "already_paid") return done();
        if (err.code === "payment_declined") err.message = "Your card was declined. Try another card.";
        showErrors(payForm, err);
        return;
      }
      if (r.status === 202) {
        btn.textContent = "Waiting for the bank…";
        await settle(r.data.payment.id);
        return;
      }
      done();
    });
  });

  // settle waits for an asynchronous charge: the gateway's webhook decides it.
  async function settle(paymentID) {
    const status = await window.parkd.settle(paymentID);
    if (status === "succeeded") return done();
    if (status === "failed") {
      payKey = uuid();
      showErrors(payForm, new Error("Your card was declined. Try another card."));
      return;
    }
    showErrors(payForm, new Error("The bank has not answered yet. Check My reservations in a minute."));
  }

  function done() {
    clearTimeout(timer);
    location.assign("/reservations/" + encodeURIComponent(reservation.id) + "#pass");
  }
})();
