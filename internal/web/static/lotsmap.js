// The home page's map of the lots it lists, on Leaflet (vendored: leaflet.js,
// leaflet.css, leaflet-LICENSE.txt). The list is the page: the map shows only
// once Leaflet has loaded and the tile server has answered one tile, so a
// browser that cannot reach the tiles (or runs no script) sees the list alone.
// Paging and "Near me" load a new page, and with it a new map of its lots.
(function () {
  "use strict";
  var box = document.getElementById("lots-map");
  if (!box || !window.L) return;
  var items = Array.prototype.slice.call(document.querySelectorAll(".lots .lot[data-lat]"));
  if (!items.length) return;
  var tiles = box.dataset.tiles;

  // The probe waits for the page's load event: an image fetched before it
  // would hold the page "loading" for as long as an unreachable tile server
  // takes to fail (a DNS timeout, offline).
  if (document.readyState === "complete") probe();
  else window.addEventListener("load", probe);

  function probe() {
    var img = new Image();
    img.onload = draw;
    img.onerror = function () { box.dataset.state = "offline"; };
    try {
      img.src = L.Util.template(tiles, { s: "a", z: 0, x: 0, y: 0, "-y": 0, r: "" });
    } catch (e) {
      draw(); // a placeholder of the tile server's own: let Leaflet try
    }
  }

  function draw() {
    box.hidden = false;
    var map = L.map(box, { scrollWheelZoom: false });
    L.tileLayer(tiles, { attribution: box.dataset.attribution, maxZoom: 19 }).addTo(map);
    var bounds = [];
    items.forEach(function (li) {
      var lat = parseFloat(li.dataset.lat), lng = parseFloat(li.dataset.lng);
      var link = li.querySelector("h2 a");
      if (!isFinite(lat) || !isFinite(lng) || !link) return;
      var name = link.textContent.trim();
      var free = li.dataset.free;
      var pin = document.createElement("span");
      pin.textContent = free === undefined ? "P" : free;
      var icon = L.divIcon({
        className: "lot-pin" + (free === "0" ? " full" : ""), html: pin,
        iconSize: [34, 34], iconAnchor: [17, 17], popupAnchor: [0, -16],
      });
      var marker = L.marker([lat, lng], { icon: icon, title: name, riseOnHover: true });
      marker.bindPopup(popup(li, link, name));
      marker.addTo(map);
      bounds.push([lat, lng]);
    });
    var near = (box.dataset.near || "").split(",").map(parseFloat);
    if (near.length === 2 && isFinite(near[0]) && isFinite(near[1])) {
      L.circleMarker(near, { radius: 7, className: "near-point", interactive: false }).addTo(map);
      bounds.push(near);
    }
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
    box.dataset.state = "ready";
  }

  // popup is a marker's card: the lot's name linking to its map, its free
  // spots and price for the window, as the list says them.
  function popup(li, link, name) {
    var card = document.createElement("div");
    card.className = "lot-popup";
    var a = document.createElement("a");
    a.href = link.getAttribute("href");
    a.textContent = name;
    var h = document.createElement("strong");
    h.appendChild(a);
    card.appendChild(h);
    [".avail", ".price", ".dist"].forEach(function (sel) {
      var el = li.querySelector(sel);
      if (!el) return;
      var p = document.createElement("p");
      p.textContent = el.textContent.trim();
      card.appendChild(p);
    });
    return card;
  }
})();
