// The gate kiosk: a pass is scanned (camera) or typed, the server decides,
// the screen says OPEN or DENIED and why, in letters big enough to read from a car.
"use strict";
(function () {
  const { api, uuid, showErrors, busy } = window.parkd;
  const root = document.getElementById("kiosk");
  if (!root) return;
  const gate = root.dataset.gate;
  const storeKey = "parkd.gate." + gate;
  const setup = document.getElementById("kiosk-setup");
  const main = document.getElementById("kiosk-main");
  const result = document.getElementById("kiosk-result");
  const verdict = document.getElementById("verdict");
  const reason = document.getElementById("reason");
  const manual = document.getElementById("manual");
  const codeInput = document.getElementById("manual-code");

  function deviceKey() { try { return localStorage.getItem(storeKey) || ""; } catch (e) { return ""; } }
  function show() {
    const has = !!deviceKey();
    setup.hidden = has;
    main.hidden = !has;
    (has ? codeInput : setup.querySelector("input")).focus();
  }

  // Pairing: the operator's one-time link (/kiosk/{gate}?pair=TOKEN) is
  // exchanged for the gate's key, kept like a typed one. The token leaves the
  // address bar at once: it is spent, and must not be bookmarked or shared.
  const pairStatus = document.getElementById("pair-status");
  const pairedWith = document.getElementById("paired-with");
  async function pair(token) {
    history.replaceState(null, "", location.pathname);
    try {
      const r = await api("POST", "/api/v1/kiosk-pairings", { token: token });
      if (r.data.gate.id !== gate) {
        throw new Error("This pairing link is for another gate (" + r.data.gate.name + "): open it at /kiosk/" + r.data.gate.id + ".");
      }
      localStorage.setItem(storeKey, r.data.key);
      await check();
      pairedWith.textContent = "Paired with " + r.data.gate.name + ".";
      pairedWith.hidden = false;
      say("idle", "Paired with " + r.data.gate.name, "Scan your pass: hold the QR code up to the camera, or type the code below.");
    } catch (err) {
      pairStatus.textContent = "Pairing failed: " + err.message;
      pairStatus.hidden = false;
    }
    show();
  }

  // check tries the stored key at once, rather than at the first car.
  async function check() {
    try {
      await api("GET", "/api/v1/lots?limit=1", undefined, { bearer: deviceKey() });
    } catch (err) {
      if (err.status === 401) {
        localStorage.removeItem(storeKey);
        throw new Error("the device key is not accepted.");
      }
      throw err;
    }
  }

  document.getElementById("kiosk-key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target;
    const key = form.key.value.trim();
    if (!key.startsWith("pkg_")) { showErrors(form, new Error("A device key starts with pkg_.")); return; }
    localStorage.setItem(storeKey, key);
    busy(form.querySelector("[type=submit]"), "Checking…", async () => {
      try {
        await check();
        form.reset();
      } catch (err) { showErrors(form, err); }
      show();
    });
  });
  document.getElementById("forget-key").addEventListener("click", () => {
    if (!confirm("Forget this gate's device key? You will need it again to use this screen.")) return;
    localStorage.removeItem(storeKey);
    show();
  });

  let resetTimer;
  function say(kind, big, small) {
    result.className = "kiosk-result " + kind;
    verdict.textContent = big;
    reason.textContent = small;
    clearTimeout(resetTimer);
    if (kind === "open" || kind === "deny") resetTimer = setTimeout(idle, 10000);
  }
  function idle() { say("idle", "Scan your pass", "Hold the QR code up to the camera, or type the code below."); }

  let inFlight = false;
  async function scan(code) {
    if (inFlight) return;
    inFlight = true;
    say("busy", "Checking…", "");
    try {
      const r = await api("POST", "/api/v1/gates/" + encodeURIComponent(gate) + "/scans", { code: code }, { bearer: deviceKey(), key: uuid() });
      const d = r.data;
      if (d.decision === "open") {
        // The server words every answer, entry ("Welcome. Your spot is
        // L1-F04.") and exit ("Goodbye. …") apart (internal/gate).
        say("open", "OPEN", d.message);
      } else {
        say("deny", "DENIED", d.message);
      }
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        say("deny", "NOT SET UP", "This screen's device key is not accepted: ask staff.");
      } else {
        say("deny", "TRY AGAIN", err.message);
      }
    } finally {
      inFlight = false;
    }
  }

  manual.addEventListener("submit", (e) => {
    e.preventDefault();
    const code = codeInput.value.trim();
    if (!code) { codeInput.focus(); return; }
    busy(manual.querySelector("[type=submit]"), "Checking…", async () => {
      await scan(code);
      codeInput.value = "";
      codeInput.focus();
    });
  });

  // The camera, where the browser can read QR codes itself.
  const camBtn = document.getElementById("camera-btn");
  const video = document.getElementById("camera");
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    camBtn.hidden = false;
    camBtn.addEventListener("click", startCamera);
  }
  async function startCamera() {
    let detector;
    try {
      detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (e) {
      say("deny", "NO CAMERA", "Type the code below instead.");
      return;
    }
    video.hidden = false;
    camBtn.hidden = true;
    await video.play();
    let last = "", lastAt = 0;
    const look = async () => {
      try {
        const codes = await detector.detect(video);
        const now = Date.now();
        // The same pass held up for a while is one scan, not many.
        if (codes.length && (codes[0].rawValue !== last || now - lastAt > 8000)) {
          last = codes[0].rawValue;
          lastAt = now;
          await scan(last);
        }
      } catch (e) { /* a frame that could not be read */ }
      setTimeout(look, 250);
    };
    look();
  }

  idle();
  const token = new URLSearchParams(location.search).get("pair");
  if (token) pair(token); else show();
})();
