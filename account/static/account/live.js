// The balances page follows the live feed (/ws/events): when one of the customer's balances
// moves, its figures are fetched again and shown. Without the feed the page is as it was served.
(function () {
  "use strict";
  var root = document.querySelector("[data-feed-token]");
  if (!root || !window.WebSocket) return;
  var status = document.getElementById("live-status");
  var csrf = root.getAttribute("data-csrf");
  var feed = root.getAttribute("data-feed-url") ||
    (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/events";
  var last = null, delay = 1000, refreshing = false, again = false;

  function show(text, state) {
    if (!status) return;
    status.textContent = text;
    status.setAttribute("data-state", state);
  }

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(root.getAttribute("data-figures"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) {
        Object.keys(body.balances).forEach(function (id) {
          var card = document.getElementById("balance-" + id);
          if (!card) return;
          ["total", "held", "available"].forEach(function (key) {
            var cell = card.querySelector("dd." + key);
            if (cell && cell.textContent !== body.balances[id][key]) {
              cell.textContent = body.balances[id][key];
              cell.classList.add("changed");
            }
          });
        });
      })
      .catch(function () {})
      .then(function () { refreshing = false; if (again) { again = false; refresh(); } });
  }

  function connect() {
    fetch(root.getAttribute("data-feed-token"), {method: "POST", credentials: "same-origin",
                                                 headers: {"X-CSRFToken": csrf, "Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) {
        var socket = new WebSocket(feed);
        socket.onopen = function () {
          var hello = {jwt: "Bearer " + body.token};
          if (last !== null) hello.resume_from = last;
          socket.send(JSON.stringify(hello));
        };
        socket.onmessage = function (message) {
          var data = JSON.parse(message.data);
          if (data.success) {
            delay = 1000;
            show(root.getAttribute("data-live"), "live");
            if (last !== null) refresh();  // whatever moved while we were away
          } else if (data.event) {
            if (last !== null && data.event.sequence <= last) return;
            last = data.event.sequence;
            if (data.event.type === "ledger.entry" || data.event.type.indexOf("request.") === 0) refresh();
          }
        };
        socket.onclose = retry;
      })
      .catch(retry);
  }

  function retry() {
    show(root.getAttribute("data-offline"), "offline");
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30000);
  }

  connect();
})();
