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
      case "resynced":
        if (e.reason) parts.push(e.reason);
        break;
    }
    if (e.evidence === "resync" && e.kind !== "resynced" && e.reason) parts.push("resync: " + e.reason);
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

  // ---- requests ------------------------------------------------------------------------
  // exchangeRow mirrors views/requests.templ (ExchangeRowView) and handlers/requests_list.go
  // (exchangeRow, shortUA, statusClass, durationMS): keep the three in step.
  var REQUESTS_LIMIT = 500, CELL_COOKIES = 4;
  var UA_PRODUCTS = ["Edg/", "OPR/", "Firefox/", "Chrome/", "Version/", "curl/", "Wget/", "python-requests/", "Go-http-client/", "node-fetch/", "axios/"];
  function shortUA(ua) {
    ua = String(ua || "");
    for (var i = 0; i < UA_PRODUCTS.length; i++) {
      var p = UA_PRODUCTS[i], at = ua.indexOf(p);
      if (at < 0) continue;
      var name = p.slice(0, -1), ver = ua.slice(at + p.length);
      var stop = ver.search(/[ ;)]/);
      if (stop >= 0) ver = ver.slice(0, stop);
      var dot = ver.indexOf(".");
      if (dot >= 0 && name !== "curl") ver = ver.slice(0, dot);
      if (name === "Version") name = "Safari";
      return name + "/" + ver;
    }
    var first = ua.split(/\s+/).filter(Boolean)[0] || "";
    return first.length > 24 ? first.slice(0, 23) + "…" : first;
  }
  function clientHost(addr) {
    addr = String(addr || "");
    var m = /^\[([^\]]*)\]:\d*$/.exec(addr);
    if (m) return m[1];
    var i = addr.lastIndexOf(":");
    return i >= 0 && addr.indexOf(":") === i ? addr.slice(0, i) : addr;
  }
  function statusClass(x) {
    var s = Number(x.status) || 0;
    if (s === 0) return "s-failed";
    if (s < 300) return "s-2xx";
    if (s < 400) return "s-3xx";
    if (s < 500) return "s-4xx";
    return "s-5xx";
  }
  function durationMS(ms) {
    if (ms < 0 || isNaN(ms)) return "—";
    if (ms < 0.001) return "0 ms";
    if (ms < 1) return Math.floor(ms * 1000) + " µs";
    if (ms < 1000) return Math.floor(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
    return duration(Math.floor(ms / 1000));
  }
  function setCookieVerdict(c, start) {
    if (typeof c.stored !== "boolean") return "";
    if (!c.stored) return "rejected";
    if (c.max_age === 0 || (c.expires && Date.parse(c.expires) < Date.parse(start))) return "deleted";
    return "stored";
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sessionLink(ref) { return "/sessions/" + encodeURIComponent(ref); }
  // cookieMark mirrors cookieMark in views/requests.templ, attribute order included.
  function cookieMark(name, verdict, reason, detail, ref) {
    var s;
    var mark = function (cls, testid) {
      s = el("span", cls);
      s.setAttribute("data-testid", testid);
      s.setAttribute("data-name", name);
    };
    switch (verdict) {
      case "blocked":
        mark("ck ck-blocked", "cookie-blocked");
        s.setAttribute("data-reason", reason || "");
        s.title = detail || "";
        s.appendChild(el("s", "", name));
        s.appendChild(document.createTextNode(" "));
        s.appendChild(el("span", "reason", reason || ""));
        break;
      case "sent":
        mark("ck ck-sent", "cookie-sent");
        s.textContent = name + " ";
        if (ref) {
          var a = el("a", "ref mono", ref);
          a.setAttribute("href", sessionLink(ref));
          a.setAttribute("data-testid", "cookie-ref");
          s.appendChild(a);
        }
        break;
      case "stored": case "deleted":
        mark("ck ck-stored", "set-cookie");
        s.setAttribute("data-verdict", verdict);
        s.title = detail || "";
        s.textContent = name + " ";
        s.appendChild(el("span", "verdict", verdict === "deleted" ? "✓ deleted" : "✓"));
        break;
      case "rejected":
        mark("ck ck-rejected", "set-cookie");
        s.setAttribute("data-verdict", "rejected");
        s.setAttribute("data-reason", reason || "rejected");
        s.title = detail || "";
        s.textContent = name + " ";
        s.appendChild(el("span", "verdict", "✗"));
        s.appendChild(document.createTextNode(" "));
        s.appendChild(el("span", "reason", reason || "rejected"));
        break;
      default:
        mark("ck ck-plain", "cookie-plain");
        s.textContent = name;
    }
    return s;
  }
  // isoParts splits an RFC 3339 time into whole epoch milliseconds and nanoseconds, so that
  // durations keep the precision Go computes them with.
  function isoParts(v) {
    var m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(String(v || ""));
    if (!m || /^0001-/.test(m[1])) return null;
    var ms = Date.parse(m[1] + m[3]);
    if (isNaN(ms)) return null;
    return { ms: ms, ns: Number(((m[2] || "") + "000000000").slice(0, 9)) };
  }
  function spanMS(a, b) {
    var x = isoParts(a), y = isoParts(b);
    return x && y ? (y.ms - x.ms) + (y.ns - x.ns) / 1e6 : NaN;
  }
  function td(cls, text) { return el("td", cls, text); }
  function exchangeRow(x) {
    var cls = statusClass(x), client = x.client || {};
    var tr = el("tr", "req-row " + cls);
    tr.setAttribute("data-testid", "request-row");
    tr.setAttribute("data-id", String(x.id || ""));
    tr.setAttribute("data-seq", String(x.seq || 0));
    tr.setAttribute("data-status", x.status ? String(x.status) : "");
    tr.setAttribute("data-ref", x.session_ref || "");
    tr.tabIndex = -1;
    var start = new Date(x.start);
    var tc = td("c-time mono");
    if (!isNaN(start)) {
      var t = el("time", "", clock(start));
      t.setAttribute("datetime", x.start);
      t.title = x.start;
      tc.appendChild(t);
    }
    tr.appendChild(tc);
    tr.appendChild(td("c-method", x.method || ""));
    var uc = td("c-url mono"), link = el("a", "", x.url || "");
    link.setAttribute("href", "/requests/" + encodeURIComponent(x.id || ""));
    link.title = x.url || "";
    link.setAttribute("data-testid", "request-link");
    uc.appendChild(link);
    tr.appendChild(uc);
    var sc = td("c-status");
    sc.appendChild(el("span", "status " + cls, x.status ? String(x.status) : "—"));
    tr.appendChild(sc);
    var lc = td("c-loc mono", x.location || "");
    lc.title = x.location || "";
    tr.appendChild(lc);
    var host = clientHost(client.addr), text = [host, shortUA(client.ua)].filter(Boolean).join(" · ");
    var cc = td("c-client");
    if (text) {
      var q = [];
      if (host) q.push("client=" + encodeURIComponent(host));
      if (client.ua) q.push("ua=" + encodeURIComponent(client.ua));
      var ca = el("a", "", text);
      ca.setAttribute("href", "/requests?" + q.join("&"));
      ca.title = client.ua || "";
      cc.appendChild(ca);
    } else {
      var cs = el("span", "", "—");
      cs.title = client.ua || "";
      cc.appendChild(cs);
    }
    tr.appendChild(cc);
    tr.appendChild(td("c-up mono", x.upstream || ""));
    var sent = td("c-sent"), sess = [], others = [];
    sent.setAttribute("data-testid", "cookies-sent");
    (x.cookies_sent || []).forEach(function (c) { (c.session_ref ? sess : others).push(c); });
    var list = sess.concat(others);
    list.slice(0, CELL_COOKIES).forEach(function (c) { sent.appendChild(cookieMark(c.name, "sent", "", "", c.session_ref)); });
    (x.cookies_blocked || []).forEach(function (b) { sent.appendChild(cookieMark(b.name, "blocked", b.reason, b.detail, b.session_ref)); });
    if (list.length > CELL_COOKIES) sent.appendChild(el("span", "ck ck-more muted", "+" + (list.length - CELL_COOKIES)));
    tr.appendChild(sent);
    var set = td("c-set"), sets = x.set_cookies || [];
    set.setAttribute("data-testid", "set-cookies");
    sets.slice(0, CELL_COOKIES).forEach(function (c) {
      var v = setCookieVerdict(c, x.start);
      set.appendChild(cookieMark(c.name, v, v === "rejected" ? (c.reason || "rejected") : c.reason, "", c.session_ref));
    });
    if (sets.length > CELL_COOKIES) set.appendChild(el("span", "ck ck-more muted", "+" + (sets.length - CELL_COOKIES)));
    tr.appendChild(set);
    var span = spanMS(x.start, x.end);
    tr.appendChild(td("num c-dur", isNaN(span) ? "" : durationMS(span)));
    return tr;
  }
  function touches(x, ref) {
    if (x.session_ref === ref) return true;
    var lists = [x.cookies_sent, x.set_cookies, x.cookies_blocked];
    for (var i = 0; i < lists.length; i++) {
      var l = lists[i] || [];
      for (var j = 0; j < l.length; j++) if (l[j].session_ref === ref) return true;
    }
    return false;
  }
  // matches applies a table's or a flow's filter (data-session, -client, -ua, -status).
  function matches(x, box) {
    var f = function (k) { return box.getAttribute("data-" + k) || ""; };
    var client = x.client || {};
    if (f("session") && !touches(x, f("session"))) return false;
    if (f("client") && clientHost(client.addr) !== f("client")) return false;
    if (f("ua") && client.ua !== f("ua")) return false;
    if (f("status") && statusClass(x) !== "s-" + f("status")) return false;
    return true;
  }
  function addExchange(x) {
    var flow = $("flow");
    if (flow && flow.getAttribute("data-live") === "true" && matches(x, flow)) {
      var stale = $("flow-stale");
      if (stale) stale.hidden = false;
    }
    if (!reqBody || reqBody.getAttribute("data-live") !== "true" || !matches(x, reqBody)) return;
    if (reqBody.querySelector('[data-id="' + CSS.escape(String(x.id)) + '"]')) return;
    reqBody.insertBefore(exchangeRow(x), reqBody.firstChild);
    while (reqBody.children.length > REQUESTS_LIMIT) {
      var last = reqBody.lastElementChild;
      if (last === selected) selected = null;
      reqBody.removeChild(last);
    }
    var table = $("requests-table"), empty = $("requests-empty");
    if (table) table.hidden = false;
    if (empty) empty.hidden = true;
  }
  // resyncRequests refetches a live table after the socket said the page missed objects.
  function resyncRequests() {
    var q = ["limit=100"];
    ["session", "client", "ua", "status"].forEach(function (k) {
      var v = reqBody.getAttribute("data-" + k);
      if (v) q.push(k + "=" + encodeURIComponent(v));
    });
    fetch("/api/exchanges?" + q.join("&"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        while (reqBody.firstChild) reqBody.removeChild(reqBody.firstChild);
        selected = null;
        (data.exchanges || []).forEach(addExchange);
      })
      .catch(function () { location.reload(); });
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
    else if (o.type === "exchange") addExchange(o);
    else if (o.type === "status") updateStatus(o);
  }

  // resync rebuilds the feed (or the Requests table) after the socket said the page
  // missed objects.
  function resync() {
    if (reqBody && reqBody.getAttribute("data-live") === "true") { resyncRequests(); return; }
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
