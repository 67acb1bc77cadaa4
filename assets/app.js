// sessionscope dashboard script: feed filtering, keyboard navigation, relative times
// and TTL countdowns, and the live socket's connection state. Rows are never built
// here: the server renders them with the page's own components, and htmx's websocket
// extension (vendor/) swaps the pushed fragments in. Untrusted data only ever reaches
// the page as text the server escaped.
(function () {
  "use strict";

  var FEED_LIMIT = 500, REQUESTS_LIMIT = 500;
  var $ = function (id) { return document.getElementById(id); };

  // ---- times -------------------------------------------------------------------
  function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = "0" + n; return n; }
  function relative(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function duration(s) {
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + pad(s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + pad(Math.floor((s % 3600) / 60)) + "m";
    return Math.floor(s / 86400) + "d " + pad(Math.floor((s % 86400) / 3600)) + "h";
  }
  function tickTimes() {
    var now = Date.now();
    var times = document.querySelectorAll("time[data-rel]");
    for (var i = 0; i < times.length; i++) {
      var t = Date.parse(times[i].getAttribute("datetime"));
      if (!isNaN(t)) times[i].textContent = relative(now - t);
    }
    var ttls = document.querySelectorAll(".ttl[data-expires]");
    for (var j = 0; j < ttls.length; j++) {
      var exp = ttls[j].getAttribute("data-expires");
      if (exp === "none" || exp === "") continue;
      var left = Math.round((Date.parse(exp) - now) / 1000);
      if (isNaN(left)) continue;
      ttls[j].textContent = left > 0 ? duration(left) : "expired";
      ttls[j].classList.toggle("warn", left > 0 && left < 60);
    }
  }
  tickTimes();
  setInterval(tickTimes, 1000);

  // ---- keyboard --------------------------------------------------------------------
  var feed = $("feed");
  var reqBody = $("requests-body"); // the Requests table
  var navList = feed || reqBody;    // what j/k move through
  var selected = null;
  function visibleRows() {
    if (!navList) return [];
    return Array.prototype.filter.call(navList.children, function (r) { return !r.hidden; });
  }
  function select(row) {
    if (selected) selected.classList.remove("selected");
    selected = row;
    if (row) { row.classList.add("selected"); row.focus({ preventScroll: false }); }
  }
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "/") {
      var search = $("search");
      if (search) { ev.preventDefault(); search.focus(); search.select(); }
      return;
    }
    if (ev.key === "j" || ev.key === "k") {
      var rows = visibleRows();
      if (!rows.length) return;
      var i = rows.indexOf(selected);
      if (i < 0) i = ev.key === "j" ? 0 : rows.length - 1;
      else i = Math.max(0, Math.min(rows.length - 1, i + (ev.key === "j" ? 1 : -1)));
      select(rows[i]);
      ev.preventDefault();
      return;
    }
    if (ev.key === "Enter" && selected) {
      var link = selected.querySelector("a[href]");
      if (link) link.click();
    }
  });

  // ---- feed ------------------------------------------------------------------------
  // The kind and framework chips hide rows by their data- attributes; pushed rows are
  // filtered as they arrive.
  var filters = { kind: {}, fw: {} };
  function anyOn(m) { for (var k in m) if (m[k]) return true; return false; }
  function applyFilter(row) {
    var kind = row.getAttribute("data-kind"), fw = row.getAttribute("data-fw");
    row.hidden = (anyOn(filters.kind) && !filters.kind[kind]) || (anyOn(filters.fw) && !filters.fw[fw]);
  }
  function applyFilters() { if (feed) Array.prototype.forEach.call(feed.children, applyFilter); }
  function bindChip(chip) {
    chip.addEventListener("click", function () {
      var on = chip.getAttribute("aria-pressed") !== "true";
      chip.setAttribute("aria-pressed", on ? "true" : "false");
      filters[chip.getAttribute("data-filter")][chip.getAttribute("data-value")] = on;
      applyFilters();
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.chip[data-filter]"), bindChip);
  // ensureFrameworkChip adds a chip for a framework the page had no chip for (a custom
  // key prefix seen after the page loaded).
  function ensureFrameworkChip(fw) {
    var box = $("chips-fw");
    if (!box || !fw || box.querySelector('[data-value="' + CSS.escape(fw) + '"]')) return;
    var b = document.createElement("button");
    b.type = "button"; b.className = "chip";
    b.setAttribute("data-testid", "chip-fw-" + fw);
    b.setAttribute("data-filter", "fw"); b.setAttribute("data-value", fw);
    b.setAttribute("aria-pressed", "false");
    b.textContent = fw;
    box.appendChild(b);
    bindChip(b);
  }

  // trim keeps a live list at its limit, dropping the oldest rows (at the bottom).
  function trim(list, limit) {
    while (list.children.length > limit) {
      var last = list.lastElementChild;
      if (last === selected) selected = null;
      list.removeChild(last);
    }
  }
  // reselect keeps the selection across a swap that replaced the whole list.
  function reselect(key) {
    if (!selected || document.body.contains(selected) || !navList) return;
    var v = selected.getAttribute(key);
    selected = null;
    if (v) select(navList.querySelector("[" + key + '="' + CSS.escape(v) + '"]'));
  }
  // afterPush tidies the page after the socket's fragments were swapped in.
  function afterPush() {
    if (feed) {
      // New rows are on top; the first one already seen ends them.
      for (var row = feed.firstElementChild; row && !row.ssSeen; row = row.nextElementSibling) {
        row.ssSeen = true;
        applyFilter(row);
        if (row.getAttribute("data-kind") !== "gap") ensureFrameworkChip(row.getAttribute("data-fw"));
      }
      trim(feed, FEED_LIMIT);
      reselect("data-seq");
      var empty = $("empty-state");
      if (empty && feed.children.length > 0) empty.hidden = true;
    }
    if (reqBody && reqBody.getAttribute("data-live") === "true") {
      // An exchange listed by the page (or a snapshot) while the socket was resuming
      // arrives again: keep the newest copy, on top.
      var ids = {};
      Array.prototype.slice.call(reqBody.children).forEach(function (row) {
        var id = row.getAttribute("data-id");
        if (!ids[id]) { ids[id] = true; return; }
        if (row === selected) selected = null;
        reqBody.removeChild(row);
      });
      trim(reqBody, REQUESTS_LIMIT);
      reselect("data-id");
      var table = $("requests-table"), none = $("requests-empty"), flow = $("requests-flow");
      if (reqBody.children.length > 0) {
        if (table) table.hidden = false;
        if (none) none.hidden = true;
        if (flow) flow.hidden = false; // an empty list's flow link waits for its first row
      }
    }
    settleInboxes();
    tickTimes();
  }

  // ---- findings and sessions: in place, or "N new — show" ----------------------------
  // The socket puts new and changed findings (and sessions) in a hidden inbox, rendered
  // by the same component as the list. A pushed item the list shows takes its place; one
  // it does not show is counted under "N new — show" instead of moving rows under the
  // reader's eyes, and "show" reloads the list region. A list still empty just reloads.
  var fresh = { findings: {}, sessions: {} };
  function settle(inbox, list, key, kind, alwaysCount) {
    if (!inbox) return;
    Array.prototype.slice.call(inbox.children).forEach(function (item) {
      var v = item.getAttribute(key);
      var cur = list && list.querySelector("[data-testid][" + key + '="' + CSS.escape(v) + '"]');
      if (cur) { if (cur === selected) selected = null; cur.replaceWith(item); return; }
      inbox.removeChild(item);
      if (alwaysCount) fresh[kind][v] = true;
    });
  }
  function showFresh(kind, region, list, item) {
    var n = Object.keys(fresh[kind]).length, bar = $(kind + "-new"), count = $(kind + "-new-count");
    if (!n || !bar) return;
    if (!list || !list.querySelector(item)) { reloadRegion(region); return; }
    if (count) count.textContent = String(n);
    bar.hidden = false;
  }
  function settleInboxes() {
    var fList = $("findings-list");
    if ($("findings-inbox")) {
      settle($("findings-inbox"), fList, "data-id", "findings", true);
      showFresh("findings", "findings-list", fList, '[data-testid="finding"]');
    }
    if ($("sessions-born")) {
      var body = $("sessions-body");
      settle($("sessions-born"), body, "data-ref", "sessions", true);
      settle($("sessions-changed"), body, "data-ref", "sessions", false);
      showFresh("sessions", "sessions-results", body, '[data-testid="session-row"]');
    }
  }
  var reloading = {};
  function reloadRegion(id) {
    if (reloading[id]) return;
    reloading[id] = true;
    fetchDoc(location.pathname + location.search).then(function (doc) {
      swap(id, doc);
      var kind = id.split("-")[0], bar = $(kind + "-new");
      fresh[kind] = {};
      if (bar) bar.hidden = true;
      tickTimes();
    }).catch(function () { location.reload(); }).then(function () { reloading[id] = false; });
  }
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-reload]");
    if (!a || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    reloadRegion(a.getAttribute("data-reload"));
  });

  // ---- live socket -------------------------------------------------------------------
  // htmx's websocket extension connects to the page's ws-connect URL and swaps in what
  // the server pushes. Every message ends with #live-seq, the seq the page reflects, so
  // a reconnect resumes after it rather than after the seq the page was loaded at.
  var indicator = $("conn-indicator");
  // The indicator's words per state. After a drop the page keeps what it last knew,
  // so it says plainly that it is not live until a socket opens again: the extension's
  // own reconnect attempts fire "connecting", which must not look like a fresh start.
  var CONN_TEXT = { connecting: "connecting", open: "live", reconnecting: "reconnecting…" };
  var CONN_TITLE = {
    connecting: "Connecting for live updates",
    open: "Live updates",
    reconnecting: "The connection to sessionscope was lost; retrying. The page shows what it last knew."
  };
  var lost = false, leaving = false;
  function setState(s) {
    if (!indicator) return;
    if (s === "connecting" && lost) s = "reconnecting";
    lost = s === "reconnecting";
    indicator.setAttribute("data-state", s);
    indicator.setAttribute("title", CONN_TITLE[s]);
    document.body.setAttribute("data-conn", s);
    var t = indicator.querySelector(".conn-text");
    if (t) t.textContent = CONN_TEXT[s];
  }
  function resumeURL(url) {
    var seq = $("live-seq"), after = seq && seq.getAttribute("data-seq");
    return after ? url.replace(/([?&]after=)\d*/, "$1" + after) : url;
  }
  // The extension reconnects by itself after an abnormal close (1006, 1011, 1012,
  // 1013); the server's other closes (1008: the page fell behind, 1001: stopping) are
  // retried here, with backoff. Both back off to at most a few seconds, so a dashboard
  // that restarts is live again soon after it is back.
  var RETRIED_BY_EXTENSION = [1006, 1011, 1012, 1013];
  var MAX_WAIT = 5000;
  var backoff = 500;
  if (window.htmx && indicator) {
    htmx.config.wsReconnectDelay = function (retries) {
      var cap = Math.min(MAX_WAIT, 500 * Math.pow(2, Math.min(retries, 4)));
      return cap / 2 + Math.random() * cap / 2;
    };
    htmx.createWebSocket = function (url) {
      var ws = new WebSocket(resumeURL(url), []);
      ws.binaryType = htmx.config.wsBinaryType;
      return ws;
    };
    // Leaving the page closes its socket too: that is not a lost connection.
    window.addEventListener("pagehide", function () { leaving = true; });
    window.addEventListener("pageshow", function () { leaving = false; });
    document.body.addEventListener("htmx:wsConnecting", function () { setState("connecting"); });
    document.body.addEventListener("htmx:wsOpen", function () { backoff = 500; setState("open"); });
    document.body.addEventListener("htmx:wsClose", function (ev) {
      if (leaving) return;
      setState("reconnecting");
      var code = ev.detail && ev.detail.event ? ev.detail.event.code : 0;
      if (RETRIED_BY_EXTENSION.indexOf(code) >= 0 || !document.body.contains(indicator)) return;
      var wrapper = ev.detail.socketWrapper, wait = backoff + Math.floor(Math.random() * backoff / 2);
      backoff = Math.min(backoff * 2, MAX_WAIT);
      setTimeout(function () { wrapper.reconnect(); }, wait);
    });
    document.body.addEventListener("htmx:wsAfterMessage", afterPush);
  }

  // ---- lab run panel -----------------------------------------------------------
  // While a run is in progress the panel polls its own fragment (data-poll) and swaps
  // it in; when the run ends it also refreshes the scenario list, whose check marks and
  // last-run states the run changed, and stops. The HTML is rendered and escaped by
  // the server's templates; nothing from it is ever executed.
  function fetchDoc(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (r) {
      if (!r.ok) throw new Error("status " + r.status);
      return r.text();
    }).then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }
  function swap(id, doc) {
    var cur = $(id), next = doc.getElementById(id);
    if (cur && next) cur.replaceWith(document.importNode(next, true));
  }
  var pollWait = 500;
  function pollRun() {
    var panel = $("lab-run");
    if (!panel || panel.getAttribute("data-state") !== "running" || !panel.getAttribute("data-poll")) return;
    setTimeout(function () {
      fetchDoc(panel.getAttribute("data-poll")).then(function (doc) {
        pollWait = 500;
        swap("lab-run", doc);
        tickTimes();
        var now = $("lab-run");
        if (now && now.getAttribute("data-state") === "running") { pollRun(); return; }
        return fetchDoc(location.pathname + location.search).then(function (page) {
          swap("lab-scenarios", page);
          tickTimes();
        });
      }).catch(function () {
        pollWait = Math.min(pollWait * 2, 10000); // the dashboard restarting: back off, keep trying
        pollRun();
      });
    }, pollWait);
  }
  pollRun();
})();
