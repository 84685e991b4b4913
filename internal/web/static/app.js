// parkd: helpers every page uses. Plain JavaScript, no build step.
"use strict";
(function () {
  // uuid returns a random Idempotency-Key: 24 letters (about 136 bits).
  // Letters only, never digits: a random UUID holds, now and then, a run of
  // digits that reads as a card number, and parkd stores no such text.
  const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  function uuid() {
    const b = new Uint8Array(24);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => LETTERS[x % LETTERS.length]).join("");
  }

  // api calls the JSON API with the session cookie. It resolves to
  // {status, data} for 2xx and rejects with an Error carrying the problem
  // (status, code, fields) otherwise.
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.key) headers["Idempotency-Key"] = opts.key;
    if (opts.bearer) headers.Authorization = "Bearer " + opts.bearer;
    // A versioned write (lots, levels, spots) names the version it was made
    // over, so that it never overwrites a change it did not see.
    if (opts.version !== undefined) headers["If-Match"] = '"' + opts.version + '"';
    let res;
    try {
      res = await fetch(path, {
        method: method, headers: headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      const err = new Error("Cannot reach parkd. Check your connection and try again.");
      err.network = true;
      throw err;
    }
    let data = null;
    if ((res.headers.get("Content-Type") || "").includes("json")) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (!res.ok) {
      const err = new Error((data && (data.detail || data.title)) || res.statusText || "Request failed");
      err.status = res.status;
      err.code = data && data.code;
      err.fields = (data && data.fields) || [];
      throw err;
    }
    return { status: res.status, data: data };
  }

  // showErrors writes err into the form's .errors box and marks the fields it names.
  function showErrors(form, err) {
    const box = form.querySelector(".errors");
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    if (!box) { toast(err.message); return; }
    box.textContent = "";
    if (!err) { box.hidden = true; return; }
    const p = document.createElement("p");
    p.textContent = err.message;
    box.appendChild(p);
    if (err.fields && err.fields.length) {
      const ul = document.createElement("ul");
      err.fields.forEach((f) => {
        const li = document.createElement("li");
        li.textContent = f.field + ": " + f.message;
        ul.appendChild(li);
        const input = form.querySelector('[name="' + CSS.escape(f.field) + '"]');
        if (input) input.setAttribute("aria-invalid", "true");
      });
      box.appendChild(ul);
    }
    box.hidden = false;
    box.focus && box.setAttribute("tabindex", "-1");
    box.focus();
  }

  function clearErrors(form) {
    const box = form.querySelector(".errors");
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  // busy disables a button while fn runs, so a double click sends nothing twice.
  async function busy(button, label, fn) {
    if (button.disabled) return;
    const old = button.textContent;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    if (label) button.textContent = label;
    try {
      return await fn();
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = old;
    }
  }

  let toastTimer;
  function toast(msg) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = msg;
    el.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => el.classList.remove("show"), 5000);
  }

  function money(amount, currency) {
    const digits = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, BHD: 3, KWD: 3, OMR: 3, JOD: 3, TND: 3 }[currency];
    const d = digits === undefined ? 2 : digits;
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency, minimumFractionDigits: d }).format(amount / Math.pow(10, d));
    } catch (e) {
      return (amount / Math.pow(10, d)).toFixed(d) + " " + currency;
    }
  }

  function formData(form) {
    const out = {};
    new FormData(form).forEach((v, k) => { out[k] = typeof v === "string" ? v.trim() : v; });
    return out;
  }

  // Sign out from any page.
  document.addEventListener("click", async (e) => {
    const b = e.target.closest("[data-signout]");
    if (!b) return;
    await busy(b, "Signing out…", async () => {
      try { await api("DELETE", "/api/v1/sessions/current"); } catch (err) { if (err.status !== 401) { toast(err.message); return; } }
      location.href = "/";
    });
  });

  // reloadWith reloads the page (or loads url instead) and, once it is
  // back, says msg.
  function reloadWith(msg, url) {
    sessionStorage.setItem("parkd.flash", msg);
    if (url) location.assign(url); else location.reload();
  }

  window.parkd = { api: api, uuid: uuid, showErrors: showErrors, clearErrors: clearErrors, busy: busy, toast: toast, money: money, formData: formData, reloadWith: reloadWith };

  // A button with data-print prints the page (receipts).
  document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));

  const flash = sessionStorage.getItem("parkd.flash");
  if (flash) { sessionStorage.removeItem("parkd.flash"); toast(flash); }
})();
