/// The dashboard's style sheet and script, embedded in the binary (the page loads nothing else).
enum DashboardAssets {
    static let css = """
    :root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--ok:#12805c;--warn:#b54708;--bad:#c01048;--bg:#fff}
    *{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#f6f7f9}
    header{display:flex;flex-wrap:wrap;align-items:baseline;gap:0 24px;padding:14px 24px;background:var(--bg);border-bottom:1px solid var(--line)}
    header h1{margin:0;font-size:20px}header section{flex:1}header p{margin:0}
    main{padding:8px 24px 24px;display:grid;gap:16px}main section{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:12px 16px}
    h2{font-size:15px;margin:0 0 8px}.muted{color:var(--muted)}.reasons{margin:4px 0 0;padding-left:18px;color:var(--muted)}
    .badge{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:600;color:#fff;background:var(--muted)}
    .badge.healthy{background:var(--ok)}.badge.degraded{background:var(--warn)}.badge.unhealthy{background:var(--bad)}
    #status-word{font-size:16px;text-transform:uppercase;letter-spacing:.04em}
    table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
    th{font-weight:600;color:var(--muted);font-size:12px}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
    code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
    tr.waiting td{background:#fff6ed}.bar-cell{width:30%}
    .bar{position:relative;height:12px;background:#f2f4f7;border-radius:3px;margin-top:4px}
    .bar .fill{height:100%;border-radius:3px;background:var(--ok)}.bar .fill.degraded{background:var(--warn)}.bar .fill.unhealthy{background:var(--bad)}
    .bar .mark{position:absolute;top:-3px;bottom:-3px;width:2px;background:var(--warn)}.bar .mark.bad{background:var(--bad)}
    .controls{display:flex;gap:16px;align-items:center;margin:0 0 6px}.legend i{display:inline-block;width:14px;height:3px;margin:0 4px 3px 10px;vertical-align:middle}
    .legend .p50,.line.p50{background:#2e90fa;stroke:#2e90fa}.legend .p90,.line.p90{background:#7a5af8;stroke:#7a5af8}
    .legend .p95,.line.p95{background:#ee46bc;stroke:#ee46bc}.legend .p99,.line.p99{background:#f04438;stroke:#f04438}
    .legend .threshold{background:repeating-linear-gradient(90deg,#98a2b3 0 4px,transparent 4px 7px)}
    #chart{width:100%;height:auto;display:block}.line{fill:none;stroke-width:2}.grid{stroke:var(--line)}.axis{fill:var(--muted);font-size:11px}
    .threshold-line{stroke:#98a2b3;stroke-dasharray:4 3}footer{padding:0 24px 24px}footer a{margin-right:6px}
    """

    static let script = """
    (function () {
      "use strict";
      var svgNS = "http://www.w3.org/2000/svg";
      var chart = document.getElementById("chart");
      var select = document.getElementById("series");
      var percentiles = ["p50", "p90", "p95", "p99"];
      var history = null;

      function el(name, attrs, text) {
        var node = document.createElementNS(svgNS, name);
        for (var key in attrs) { node.setAttribute(key, attrs[key]); }
        if (text !== undefined) { node.textContent = text; }
        return node;
      }

      function seriesOf(point, key) {
        if (key === "all") { return point; }
        var parts = key.split(":");
        var group = parts[0] === "route" ? point.by_route : point.by_database;
        return (group && group[parts.slice(1).join(":")]) || null;
      }

      function fillSelect(points) {
        var keys = ["all"], seen = {all: true};
        points.forEach(function (p) {
          Object.keys(p.by_route || {}).forEach(function (r) { var k = "route:" + r; if (!seen[k]) { seen[k] = true; keys.push(k); } });
          Object.keys(p.by_database || {}).forEach(function (d) { var k = "database:" + d; if (!seen[k]) { seen[k] = true; keys.push(k); } });
        });
        var current = select.value || "all";
        select.textContent = "";
        keys.forEach(function (k) {
          var option = document.createElement("option");
          option.value = k;
          option.textContent = k === "all" ? "all queries" : k.replace(":", " ");
          select.appendChild(option);
        });
        select.value = seen[current] ? current : "all";
      }

      function tick(ms) { return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2); }

      function clock(t) {
        var d = new Date(t * 1000);
        return ("0" + d.getUTCHours()).slice(-2) + ":" + ("0" + d.getUTCMinutes()).slice(-2) + ":" + ("0" + d.getUTCSeconds()).slice(-2);
      }

      function draw() {
        if (!history) { return; }
        var W = 960, H = 280, left = 56, right = 12, top = 12, bottom = 28;
        var key = select.value || "all";
        var rows = history.points.map(function (p) { return {t: p.t, s: seriesOf(p, key)}; });
        var live = rows.filter(function (r) { return r.s && r.s.total > 0; });
        chart.textContent = "";
        chart.setAttribute("data-points", String(live.length));
        var t0 = rows.length ? rows[0].t : 0, t1 = rows.length ? rows[rows.length - 1].t : 1;
        if (t1 <= t0) { t1 = t0 + history.interval_s; }
        var max = history.threshold_ms;
        live.forEach(function (r) { max = Math.max(max, r.s.latency_ms.p99); });
        max = max * 1.1 || 1;
        function x(t) { return left + (W - left - right) * (t - t0) / (t1 - t0); }
        function y(ms) { return H - bottom - (H - top - bottom) * Math.min(ms, max) / max; }
        for (var i = 0; i <= 4; i++) {
          var v = max * i / 4;
          chart.appendChild(el("line", {x1: left, x2: W - right, y1: y(v), y2: y(v), "class": "grid"}));
          chart.appendChild(el("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end", "class": "axis"}, tick(v) + " ms"));
        }
        [t0, (t0 + t1) / 2, t1].forEach(function (t, index) {
          chart.appendChild(el("text", {x: x(t), y: H - 8, "text-anchor": ["start", "middle", "end"][index], "class": "axis"}, clock(t) + " UTC"));
        });
        chart.appendChild(el("line", {x1: left, x2: W - right, y1: y(history.threshold_ms), y2: y(history.threshold_ms), "class": "threshold-line"}));
        if (!live.length) {
          chart.appendChild(el("text", {x: W / 2, y: H / 2, "text-anchor": "middle", "class": "axis"}, "no queries yet in this series"));
          return;
        }
        percentiles.forEach(function (name) {
          var d = "", pen = "M";
          rows.forEach(function (r) {
            if (!r.s || r.s.total === 0) { pen = "M"; return; }
            d += pen + x(r.t).toFixed(1) + " " + y(r.s.latency_ms[name]).toFixed(1) + " ";
            pen = "L";
          });
          var path = el("path", {d: d.trim(), "class": "line " + name});
          path.appendChild(el("title", {}, name));
          chart.appendChild(path);
        });
      }

      function get(url, json) {
        return fetch(url, {cache: "no-store", headers: {Accept: json ? "application/json" : "text/html"}}).then(function (r) {
          return json ? r.json() : r.text();
        });
      }

      function refresh() {
        var charted = get("/metrics/queries/history", true).then(function (doc) {
          history = doc;
          fillSelect(doc.points);
          draw();
        });
        var swapped = get("/", false).then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live]").forEach(function (section) {
            var replacement = fresh.getElementById(section.id);
            if (replacement) { section.innerHTML = replacement.innerHTML; }
          });
          document.title = fresh.title;
        });
        return Promise.all([charted, swapped]).then(function () {
          document.body.setAttribute("data-refreshed", String(Number(document.body.getAttribute("data-refreshed")) + 1));
        }, function () { /* the next refresh tries again */ });
      }

      select.addEventListener("change", draw);
      refresh();
      setInterval(refresh, 5000);
    })();
    """
}
