// Sign in, sign up and vehicles.
"use strict";
(function () {
  const { api, showErrors, clearErrors, busy, formData, uuid } = window.parkd;

  function go(next) { location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/"); }

  const signin = document.getElementById("signin");
  if (signin) {
    signin.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(signin);
      busy(signin.querySelector("[type=submit]"), "Signing in…", async () => {
        try {
          await api("POST", "/api/v1/sessions", formData(signin));
          go(signin.dataset.next);
        } catch (err) { showErrors(signin, err); }
      });
    });
  }

  const signup = document.getElementById("signup");
  if (signup) {
    // One key per filled-in form: a retry after a lost answer cannot create two accounts.
    let key = uuid();
    signup.addEventListener("input", () => { key = uuid(); });
    signup.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(signup);
      busy(signup.querySelector("[type=submit]"), "Creating…", async () => {
        const f = formData(signup);
        try {
          await api("POST", "/api/v1/users", f, { key: key });
          await api("POST", "/api/v1/sessions", { email: f.email, password: f.password });
          go(signup.dataset.next === "/" ? "/vehicles" : "/vehicles?next=" + encodeURIComponent(signup.dataset.next));
        } catch (err) { showErrors(signup, err); }
      });
    });
  }

  const add = document.getElementById("add-vehicle");
  if (add) {
    let key = uuid();
    add.addEventListener("input", () => { key = uuid(); });
    add.addEventListener("submit", (e) => {
      e.preventDefault();
      clearErrors(add);
      busy(add.querySelector("[type=submit]"), "Adding…", async () => {
        try {
          await api("POST", "/api/v1/users/me/vehicles", formData(add), { key: key });
          if (add.dataset.next) go(add.dataset.next); else location.reload();
        } catch (err) { showErrors(add, err); }
      });
    });
  }
  document.querySelectorAll("[data-delete-vehicle]").forEach((b) => {
    b.addEventListener("click", () => busy(b, "Removing…", async () => {
      try {
        await api("DELETE", "/api/v1/users/me/vehicles/" + encodeURIComponent(b.dataset.deleteVehicle));
        location.reload();
      } catch (err) { window.parkd.toast(err.message); }
    }));
  });
})();
