// sessionscope dashboard script: live updates over a websocket, feed filtering,
// keyboard navigation, relative times and TTL countdowns. No framework, and untrusted
// data only ever reaches the page through textContent and setAttribute.
(function () {
  "use strict";

  var FEED_LIMIT = 500;
  var body = document.body;
  var lastSeq = Number(body.getAttribute("data-seq") || "0") || 0;
  var $ = function (id) { return document.getElementById(id); };

  // ---- times -------------------------------------------------------------------
  function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = "0" + n; return n; }
  function clock(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3); }
  function exact(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(d); }
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
  var selected = null;
  function visibleRows() {
    if (!feed) return [];
    return Array.prototype.filter.call(feed.children, function (r) { return !r.hidden; });
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

  function secs(s) { return s < 1 ? Math.round(s * 1000) + "ms" : (Math.round(s * 1000) / 1000) + "s"; }
  // eventMeta and eventDetail mirror handlers/feed.go.
  function eventMeta(e) {
    var parts = [];
    if (typeof e.ttl_s === "number") parts.push(e.ttl_s < 0 ? "no ttl" : "ttl " + e.ttl_s + "s");
    if (typeof e.size === "number") parts.push(e.size + "B");
    return parts.join(" · ");
  }
  function eventDetail(e) {
    var parts = [];
    switch (e.kind) {
      case "regenerated":
        if (e.from) parts.push("from " + e.from.id + " " + e.from.ref + (e.evidence ? " (" + e.evidence + ")" : ""));
        if (e.old_kept) parts.push("old session kept");
        break;
      case "updated":
        if (e.changed && e.changed.length) parts.push("changed " + e.changed.join(", "));
        break;
      case "expired": case "destroyed": case "evicted":
        if (typeof e.age_s === "number") parts.push("age " + secs(e.age_s));
        if (typeof e.idle_s === "number") parts.push("idle " + secs(e.idle_s));
        if (e.cause) parts.push("cause " + e.cause);
        break;
      case "gap":
        var s = "events may have been lost";
        if (e.from_time && e.to_time) s += " between " + clock(new Date(e.from_time)) + " and " + clock(new Date(e.to_time));
        if (e.dropped) s += ": " + e.dropped + " dropped";
        if (e.reason) s += " (" + e.reason + ")";
        parts.push(s);
        break;
    }
    if (e.payload_unread) parts.push("payload unread: " + e.payload_unread);
    return parts.join(" · ");
  }
  function span(cls, text) { var s = document.createElement("span"); s.className = cls; s.textContent = text; return s; }
  function feedRow(e) {
    var sess = e.session || {};
    var kind = String(e.kind || "");
    var li = document.createElement("li");
    li.className = "row k-" + kind.replace(/[^a-z-]/g, "");
    li.setAttribute("data-testid", "feed-row");
    li.setAttribute("data-seq", String(e.seq));
    li.setAttribute("data-kind", kind);
    li.setAttribute("data-ref", sess.ref || "");
    li.setAttribute("data-fw", kind === "gap" ? (e.backend || "") : (sess.framework || ""));
    li.tabIndex = -1;
    var when = new Date(e.time);
    var tc = span("c-time", "");
    var t = document.createElement("time");
    t.setAttribute("datetime", e.time);
    t.setAttribute("data-rel", "");
    t.title = isNaN(when) ? "" : clock(when);
    t.textContent = isNaN(when) ? "" : relative(Date.now() - when.getTime());
    tc.appendChild(t);
    li.appendChild(tc);
    var kc = span("c-kind", ""); kc.appendChild(span("kind", kind)); li.appendChild(kc);
    if (sess.ref) {
      var a = document.createElement("a");
      a.className = "c-id mono";
      a.setAttribute("href", "/sessions/" + encodeURIComponent(sess.ref));
      a.textContent = sess.id || "";
      li.appendChild(a);
    } else {
      li.appendChild(span("c-id mono", kind === "gap" ? "—" : (sess.id || "")));
    }
    li.appendChild(span("c-ref mono", sess.ref || ""));
    li.appendChild(span("c-fw", kind === "gap" ? (e.backend || "") : (sess.framework || "")));
    li.appendChild(span("c-meta", eventMeta(e)));
    li.appendChild(span("c-detail", eventDetail(e)));
    return li;
  }
  function addEvent(e) {
    if (!feed) return;
    var row = feedRow(e);
    applyFilter(row);
    feed.insertBefore(row, feed.firstChild);
    while (feed.children.length > FEED_LIMIT) {
      var last = feed.lastElementChild;
      if (last === selected) selected = null;
      feed.removeChild(last);
    }
    if (e.session && e.session.framework) ensureFrameworkChip(e.session.framework);
    var empty = $("empty-state");
    if (empty) empty.hidden = true;
  }

  // ---- counters, strip -----------------------------------------------------------
  function setText(id, v) { var el = $(id); if (el) el.textContent = String(v); }
  function sparkPoints(rate) {
    var max = 1, pts = [];
    for (var i = 0; i < rate.length; i++) max = Math.max(max, rate[i]);
    for (var j = 0; j < rate.length; j++) {
      var x = rate.length > 1 ? Math.floor(j * 120 / (rate.length - 1)) : 0;
      pts.push(x + "," + (29 - Math.floor(rate[j] * 27 / max)));
    }
    return { points: pts.join(" ") || "0,29 120,29", max: max, now: rate.length ? rate[rate.length - 1] : 0 };
  }
  function updateCounters(c) {
    ["live", "created", "regenerated", "expired", "destroyed"].forEach(function (k) {
      if (typeof c[k] === "number") setText("counter-" + k, c[k]);
    });
    if (c.rate) {
      var sp = sparkPoints(c.rate);
      var line = document.querySelector("#sparkline polyline");
      if (line) line.setAttribute("points", sp.points);
      setText("spark-now", sp.now); setText("spark-max", sp.max);
    }
    if (typeof c.dropped === "number") setText("strip-dropped", c.dropped);
    if (typeof c.gaps === "number") setText("strip-gaps", c.gaps);
    var badge = $("findings-badge");
    if (badge && typeof c.findings === "number") {
      badge.textContent = String(c.findings);
      badge.hidden = c.findings === 0;
    }
  }
  function updateStatus(s) {
    var strip = $("status-strip");
    if (!strip) return;
    strip.setAttribute("data-state", s.state || "");
    setText("strip-state", s.state || "");
    setText("strip-backend", s.backend || "");
    if (s.notifications) {
      setText("strip-flags", s.notifications.flags || "(none)");
      var miss = $("strip-missing");
      if (miss) {
        miss.hidden = !s.notifications.missing;
        var code = miss.querySelector("code");
        if (code) code.textContent = s.notifications.missing || "";
      }
    }
    setText("strip-message", s.message || "");
  }

  function apply(o) {
    if (o.type === "event") addEvent(o);
    else if (o.type === "status") updateStatus(o);
  }

  // resync rebuilds the feed after the socket said the page missed objects.
  function resync() {
    if (!feed) return;
    fetch("/api/events?tail=" + FEED_LIMIT, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        while (feed.firstChild) feed.removeChild(feed.firstChild);
        selected = null;
        (data.objects || []).forEach(apply);
        lastSeq = Math.max(lastSeq, data.seq || 0);
      })
      .catch(function () { location.reload(); });
  }

  function handle(m) {
    switch (m.type) {
      case "batch":
        (m.objects || []).forEach(function (o) {
          if (o.seq > lastSeq) { apply(o); lastSeq = o.seq; }
        });
        if (m.seq > lastSeq) lastSeq = m.seq;
        if (m.counters) updateCounters(m.counters);
        break;
      case "skipped":
        if (m.seq > lastSeq) lastSeq = m.seq;
        resync();
        break;
      case "refresh":
        // The resume point is gone (or from before a restart): start from now.
        lastSeq = m.seq || 0;
        resync();
        break;
    }
  }

  // ---- websocket ---------------------------------------------------------------------
  var indicator = $("conn-indicator");
  function setState(s) {
    if (!indicator) return;
    indicator.setAttribute("data-state", s);
    var t = indicator.querySelector(".conn-text");
    if (t) t.textContent = s === "open" ? "live" : s;
  }
  var backoff = 500;
  function connect() {
    setState("connecting");
    var ws;
    try {
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?after=" + lastSeq);
    } catch (err) { retry(); return; }
    ws.onopen = function () { backoff = 500; setState("open"); };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (err) { return; }
      handle(m);
    };
    ws.onclose = function () { setState("closed"); retry(); };
  }
  function retry() {
    var wait = backoff + Math.floor(Math.random() * backoff / 2);
    backoff = Math.min(backoff * 2, 30000);
    setTimeout(connect, wait);
  }
  if (body.getAttribute("data-live") === "true" && indicator) connect();
})();
