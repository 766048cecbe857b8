/* PromptPay QR pages: count down the QR's time and ask the server whether it was paid.
 *
 * Markup (any page that shows a PromptPay QR):
 *   <section data-promptpay-status-url="..." data-poll-ms="3000">
 *     <span data-promptpay-countdown data-seconds="900">15:00</span>
 *   </section>
 * The status URL answers {"status": "pending" | "paid" | "expired" | "cancelled"}.  When
 * the status is no longer "pending" the page reloads, and the server shows the outcome.
 * Without JavaScript the page's own "check now" link does the same.
 */
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function countdown(el) {
    var left = parseInt(el.getAttribute("data-seconds"), 10);
    if (isNaN(left)) { return; }
    var end = Date.now() + left * 1000;
    function tick() {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      el.textContent = Math.floor(s / 60) + ":" + pad(s % 60);
      if (s > 0) { window.setTimeout(tick, 1000); }
    }
    tick();
  }

  function poll(box) {
    var url = box.getAttribute("data-promptpay-status-url");
    var every = parseInt(box.getAttribute("data-poll-ms"), 10) || 3000;
    var delay = every;
    function ask() {
      fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (body) {
          if (body && body.status && body.status !== "pending") {
            window.location.reload();
            return;
          }
          delay = every;
          window.setTimeout(ask, delay);
        }, function () {
          delay = Math.min(delay * 2, 30000);  // the network is away: ask less often
          window.setTimeout(ask, delay);
        });
    }
    window.setTimeout(ask, every);
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-promptpay-countdown]"), countdown);
    Array.prototype.forEach.call(document.querySelectorAll("[data-promptpay-status-url]"), poll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
