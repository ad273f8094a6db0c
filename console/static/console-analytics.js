/* Manager analytics: one date range, the report and the knowledge gaps, rendered as text. */
(function () {
  "use strict";
  var C = window.Concierge;
  var el = C.el;

  function pct(rate) { return rate === null || rate === undefined ? "–" : Math.round(rate * 100) + "%"; }
  function secs(value) {
    if (value === null || value === undefined) { return "–"; }
    return value < 120 ? Math.round(value) + " s" : (value / 60).toFixed(1) + " min";
  }
  function status(text, kind) {
    var node = document.getElementById("status");
    node.textContent = text;
    node.className = kind || "muted";
  }
  function isoDay(date) { return date.toISOString().slice(0, 10); }

  function fill(id, rows) {
    var body = C.clear(document.querySelector("#" + id + " tbody"));
    if (!rows.length) {
      var columns = document.querySelectorAll("#" + id + " thead th").length;
      body.appendChild(el("tr", {}, el("td", { colspan: columns, className: "empty", text: "None in this period." })));
    }
    rows.forEach(function (cells) {
      body.appendChild(el.apply(null, ["tr", {}].concat(cells.map(function (c) { return el("td", { text: c }); }))));
    });
  }

  function load() {
    var start = document.getElementById("r-start").value;
    var end = document.getElementById("r-end").value;
    var query = "?start=" + encodeURIComponent(start) + "&end=" + encodeURIComponent(end);
    status("Loading…");
    Promise.all([C.api("GET", "/api/analytics/report" + query), C.api("GET", "/api/analytics/gaps" + query)])
      .then(function (results) {
        var report = results[0];
        if (!report.ok) { status(C.errorText(report), "error"); return; }
        var r = report.data;
        document.getElementById("m-containment").textContent = pct(r.containment.rate);
        document.getElementById("m-contained").textContent = r.containment.contained + " of " + r.containment.conversations;
        document.getElementById("m-csat").textContent = pct(r.csat.satisfied_rate);
        document.getElementById("m-csat-detail").textContent = r.csat.responses + " responses, average "
          + (r.csat.average === null ? "–" : r.csat.average);
        var handoffs = r.first_response.reduce(function (sum, t) { return sum + t.handoffs; }, 0);
        document.getElementById("m-handoffs").textContent = String(handoffs);
        fill("frt", r.first_response.map(function (t) {
          return [t.tier, secs(t.sla_seconds), t.handoffs, t.answered, secs(t.median_seconds), secs(t.p90_seconds),
            pct(t.within_sla_rate) + " (" + t.within_sla + ")"];
        }));
        fill("reasons", r.handoff_reasons.map(function (x) { return [x.label || x.reason, x.count]; }));
        fill("csat", [5, 4, 3, 2, 1].map(function (s) { return [String(s), r.csat.distribution[s] || 0]; }));
        var gaps = results[1].ok ? results[1].data : [];
        fill("gaps", gaps.map(function (g) {
          return [g.question, g.count, Object.keys(g.reasons).join(", ")];
        }));
        document.getElementById("analytics").hidden = false;
        status("From " + r.range.start + " to " + r.range.end + ".");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("range-form");
    var today = new Date();
    var monthAgo = new Date(today.getTime() - 29 * 86400000);
    document.getElementById("r-end").value = isoDay(today);
    document.getElementById("r-start").value = isoDay(monthAgo);
    form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
    load();
  });
})();
