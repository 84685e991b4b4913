// My reservations: cancel, the pass (full screen at the gate), waiting for a
// payment, extending a stay.
"use strict";
(function () {
  const { api, uuid, busy, toast, money, reloadWith, showErrors, clearErrors } = window.parkd;

  document.querySelectorAll("[data-cancel]").forEach((b) => {
    let key = uuid();
    b.addEventListener("click", () => {
      if (!confirm("Cancel this reservation? " + b.dataset.refund)) return;
      busy(b, "Cancelling…", async () => {
        try {
          const r = await api("POST", "/api/v1/reservations/" + encodeURIComponent(b.dataset.cancel) + "/cancel", undefined, { key: key });
          const refund = r.data.refund;
          reloadWith(refund ? "Cancelled. " + money(refund.amount, refund.currency) + " is on its way back to your card." : "Cancelled.");
        } catch (err) {
          if (!err.network) key = uuid();
          toast(err.message);
        }
      });
    });
  });

  const pass = document.getElementById("pass");
  if (pass) {
    const id = pass.dataset.reservation;
    api("GET", "/api/v1/reservations/" + encodeURIComponent(id) + "/pass").then((r) => {
      document.getElementById("pass-code").textContent = r.data.manual_code;
      document.getElementById("pass-overlay-code").textContent = r.data.manual_code;
    }).catch((err) => { document.getElementById("pass-code").textContent = "unavailable"; toast(err.message); });

    const overlay = document.getElementById("pass-overlay");
    let wakeLock = null, opener = null;
    async function show() {
      opener = document.activeElement;
      document.getElementById("pass-overlay-qr").src = document.getElementById("pass-qr").src;
      overlay.hidden = false;
      overlay.querySelector("[data-close]").focus();
      // Full brightness and no screen lock while the scanner reads it.
      try { if (overlay.requestFullscreen) await overlay.requestFullscreen(); } catch (e) { /* the overlay alone will do */ }
      try { if (navigator.wakeLock) wakeLock = await navigator.wakeLock.request("screen"); } catch (e) { wakeLock = null; }
    }
    function hide() {
      overlay.hidden = true;
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      if (wakeLock) { wakeLock.release().catch(() => {}); wakeLock = null; }
      if (opener) opener.focus();
    }
    document.getElementById("pass-full").addEventListener("click", show);
    document.getElementById("pass-full-btn").addEventListener("click", show);
    overlay.querySelector("[data-close]").addEventListener("click", hide);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !overlay.hidden) hide(); });
    document.addEventListener("fullscreenchange", () => { if (!document.fullscreenElement && !overlay.hidden) hide(); });
  }

  // Extend: the server priced the new end (the page's form reloads it when
  // the end changes); paying sends it with the saved card or a card from the
  // form, with one Idempotency-Key per attempt.
  const extendForm = document.getElementById("extend-form");
  if (extendForm) {
    extendForm.querySelector("input").addEventListener("change", () => extendForm.submit());
  }
  const extendPay = document.getElementById("extend-pay");
  if (extendPay) {
    const d = extendPay.dataset;
    const cardBox = document.getElementById("extend-card");
    const card = cardBox ? window.parkd.card(extendPay) : null;
    const useSaved = () => { const r = extendPay.querySelector('input[name="card"]:checked'); return !!r && r.value === "saved"; };
    const showCard = () => {
      if (!cardBox) return;
      cardBox.hidden = useSaved();
      if (!cardBox.hidden) card.setup();
    };
    extendPay.querySelectorAll('input[name="card"]').forEach((r) => r.addEventListener("change", showCard));
    showCard();
    let key = uuid();
    const btn = document.getElementById("extend-btn");
    // The page again, without the end it asked about (that is the end now).
    const extended = () => reloadWith("Extended: you may stay until " + d.endsLabel + ".", location.pathname);
    const words = (err) => {
      switch (err.code) {
        case "payment_declined": return new Error("Your card was declined, so the stay was not extended. Try another card.");
        case "payment_in_progress": return new Error("Another payment for this stay is going through. Wait a moment, then reload the page.");
      }
      if (err.fields && err.fields.some((f) => f.field === "payment_method")) {
        return new Error("There is no saved card to pay with: enter a card.");
      }
      return err;
    };
    extendPay.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(btn, "Extending…", async () => {
        clearErrors(extendPay);
        const body = { ends_at: d.endsAt };
        if (+d.amount > 0 && !useSaved()) {
          try { body.payment_method = await card.token(); } catch (err) { showErrors(extendPay, err); return; }
        }
        let r;
        try {
          r = await api("POST", "/api/v1/reservations/" + encodeURIComponent(d.reservation) + "/extension", body, { key: key });
        } catch (err) {
          if (!err.network) key = uuid();
          showErrors(extendPay, words(err));
          return;
        }
        if (r.status === 202 && r.data.payment) {
          btn.textContent = "Waiting for the bank…";
          const status = await window.parkd.settle(r.data.payment.id);
          if (status === "succeeded") return extended();
          key = uuid();
          showErrors(extendPay, new Error(status === "failed" ? "Your card was declined, so the stay was not extended. Try another card."
            : "The bank has not answered yet. Reload the page in a minute to see the end of your stay."));
          return;
        }
        extended();
      });
    });
  }

  // A payment that the bank confirms later: look until it is confirmed.
  const pending = document.getElementById("pending");
  if (pending) {
    const id = pending.dataset.reservation;
    let tries = 0;
    const look = async () => {
      try {
        const r = await api("GET", "/api/v1/reservations/" + encodeURIComponent(id));
        if (r.data.status !== "held") { location.reload(); return; }
      } catch (e) { /* keep looking */ }
      if (++tries < 60) setTimeout(look, 2000);
    };
    setTimeout(look, 2000);
  }
})();
