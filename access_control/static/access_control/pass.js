// The QR pass changes on its own: the next code is fetched as the step turns (and at once
// when the phone wakes the page), and the clock ticks so a live pass is told from a picture.
(function () {
  "use strict";
  var root = document.getElementById("qr-pass");
  if (!root) { return; }
  var image = document.getElementById("qr-image");
  var clock = document.getElementById("qr-clock");
  var status = document.getElementById("qr-status");
  var url = root.getAttribute("data-code-url");
  var timer = null;

  function tick() {
    var now = new Date();
    clock.textContent = now.toLocaleTimeString(document.documentElement.lang || undefined, { hour12: false });
  }

  function schedule(seconds) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, Math.max(1, seconds) * 1000);
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        image.setAttribute("src", data.src);
        root.setAttribute("data-refreshed", String(Date.now()));
        status.hidden = true;
        schedule(data.refresh_in);
      })
      .catch(function () {
        status.hidden = false;
        schedule(5);
      });
  }

  tick();
  setInterval(tick, 1000);
  schedule(Number(root.getAttribute("data-refresh-in")) || 30);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { refresh(); }
  });
})();
