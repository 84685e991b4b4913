// The card input of a payment form (reserve, extend): Stripe Elements when
// the gateway is Stripe, else the sandbox's test cards. The number never
// leaves the browser; only the token is sent.
"use strict";
(function () {
  const { toast } = window.parkd;

  // The sandbox's test cards, by number: the same as Stripe's.
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

  // card returns the card input inside form (which says data-gateway and
  // data-stripe-key): setup() mounts Stripe's, token() reads a payment method.
  function card(form) {
    let stripe = null, element = null;
    function sandboxToken() {
      const number = form.querySelector("#card-number").value.replace(/[\s-]/g, "");
      const exp = form.querySelector("#card-exp").value.trim();
      const cvc = form.querySelector("#card-cvc").value.trim();
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
    return {
      setup() {
        if (form.dataset.gateway !== "stripe" || !form.dataset.stripeKey || stripe) return;
        if (!window.Stripe) { toast("The card form could not load. Reload the page to try again."); return; }
        stripe = window.Stripe(form.dataset.stripeKey);
        element = stripe.elements().create("card");
        element.mount(form.querySelector("#stripe-card"));
      },
      async token() {
        if (!stripe) return sandboxToken();
        const r = await stripe.createPaymentMethod({ type: "card", card: element });
        if (r.error) throw new Error(r.error.message);
        return r.paymentMethod.id;
      },
    };
  }

  // settle waits for a charge the gateway settles later (its webhook decides):
  // it resolves to "succeeded", "failed", or "unknown" after a minute.
  async function settle(paymentID) {
    for (let i = 0; i < 60; i++) {
      await new Promise((ok) => setTimeout(ok, 1000));
      let p;
      try { p = (await window.parkd.api("GET", "/api/v1/payments/" + encodeURIComponent(paymentID))).data; } catch (e) { continue; }
      if (p.status === "succeeded" || p.status === "failed") return p.status;
    }
    return "unknown";
  }

  window.parkd.card = card;
  window.parkd.settle = settle;
})();
