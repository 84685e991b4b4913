// The home page's search works as a plain GET form; this adds what needs a
// script: "Near me" from the browser's position, and the browser's time
// zone, so that the window's times are read as the driver means them.
(function () {
  "use strict";
  var form = document.getElementById("lot-search");
  if (!form) return;
  var tz = document.getElementById("tz");
  if (tz && !tz.value && window.Intl) {
    try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* UTC, then */ }
  }
  var button = document.getElementById("near-me");
  var near = document.getElementById("near");
  var state = document.getElementById("near-state");
  if (!button || !near || !navigator.geolocation) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    state.textContent = "Finding where you are…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      near.value = pos.coords.latitude.toFixed(5) + "," + pos.coords.longitude.toFixed(5);
      state.textContent = "";
      form.submit();
    }, function (err) {
      state.textContent = "Your position is not available (" + err.message + "): type a latitude,longitude instead.";
    }, { timeout: 10000, maximumAge: 60000 });
  });
})();
