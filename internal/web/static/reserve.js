// Reserve: hold a spot, then pay with the card form while the hold counts down.
"use strict";
(function () {
  const { api, uuid, showErrors, clearErrors, busy, money, toast } = window.parkd;
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

  // ---- the card ----
  // The sandbox's test cards, by number: the same as Stripe's. The number never
  // leaves the browser; only the token is sent.
  const TEST_CARDS = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_visa_chargeDeclinedInsufficientFunds",
    "4000002760003184": "pm_card_parkd_async_success",
    "4000000000003220": "pm_card_parkd_async_decline",
  };
  function luhn(n) {
    let sum = 0;
    for (let i = 0; i < n.length; i++) {
      let d = +n[n.length - 1 - i];
      if (i % 2) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return n.length >= 12 && sum % 10 === 0;
  }
  function fieldError(field, message) {
    const e = new Error("Check the card details.");
    e.fields = [{ field: field, message: message }];
    return e;
  }
  function sandboxToken() {
    const number = document.getElementById("card-number").value.replace(/[\s-]/g, "");
    const exp = document.getElementById("card-exp").value.trim();
    const cvc = document.getElementById("card-cvc").value.trim();
    if (!/^\d+$/.test(number) || !luhn(number)) throw fieldError("card number", "is not a valid card number");
    const m = /^(\d{1,2})\s*\/\s*(\d{2}|\d{4})$/.exec(exp);
    if (!m || +m[1] < 1 || +m[1] > 12) throw fieldError("expiry", "must be MM/YY");
    const year = m[2].length === 2 ? 2000 + +m[2] : +m[2];
    if (new Date(year, +m[1], 1) <= new Date()) throw fieldError("expiry", "the card has expired");
    if (!/^\d{3,4}$/.test(cvc)) throw fieldError("CVC", "must be 3 or 4 digits");
    const token = TEST_CARDS[number];
    if (!token) throw fieldError("card number", "this sandbox takes only the test cards listed below");
    return token;
  }

  let stripe = null, card = null;
  function setupCard() {
    if (payForm.dataset.gateway !== "stripe" || !payForm.dataset.stripeKey || stripe) return;
    if (!window.Stripe) { toast("The card form could not load. Reload the page to try again."); return; }
    stripe = window.Stripe(payForm.dataset.stripeKey);
    card = stripe.elements().create("card");
    card.mount("#stripe-card");
  }
  async function token() {
    if (!stripe) return sandboxToken();
    const r = await stripe.createPaymentMethod({ type: "card", card: card });
    if (r.error) throw new Error(r.error.message);
    return r.paymentMethod.id;
  }

  let payKey = uuid();
  payForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const btn = document.getElementById("pay");
    busy(btn, "Paying…", async () => {
      clearErrors(payForm);
      let pm;
      try { pm = await token(); } catch (err) { showErrors(payForm, err); return; }
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
    for (let i = 0; i < 60; i++) {
      await new Promise((ok) => setTimeout(ok, 1000));
      let p;
      try { p = (await api("GET", "/api/v1/payments/" + encodeURIComponent(paymentID))).data; } catch (e) { continue; }
      if (p.status === "succeeded") return done();
      if (p.status === "failed") {
        payKey = uuid();
        showErrors(payForm, new Error("Your card was declined. Try another card."));
        return;
      }
    }
    showErrors(payForm, new Error("The bank has not answered yet. Check My reservations in a minute."));
  }

  function done() {
    clearTimeout(timer);
    location.assign("/reservations/" + encodeURIComponent(reservation.id) + "#pass");
  }
})();
