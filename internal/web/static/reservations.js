// My reservations: cancel, the pass (full screen at the gate), waiting for a payment.
"use strict";
(function () {
  const { api, uuid, busy, toast, money, reloadWith } = window.parkd;

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
      const until = new Date(r.data.valid_until), since = new Date(r.data.valid_from);
      document.getElementById("pass-valid").textContent = "Valid from " + since.toLocaleString() + " to " + until.toLocaleString() + ".";
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
