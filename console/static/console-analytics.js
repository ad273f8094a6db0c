/* Manager analytics: one date range and grouping; the report as charts (trend by outcome, SLA
 * attainment by tier, outcome mix) and tables; every number opens the conversations behind it
 * (/api/analytics/conversations) with their CSV; each table downloads as CSV. Text only
 * through textContent (Concierge.el / ConciergeCharts). */
(function () {
  "use strict";
  var C = window.Concierge;
  var Charts = window.ConciergeCharts;
  var el = C.el;
  var OUTCOMES = [
    ["contained", "contained by the bot"],
    ["resolved", "resolved by a person"],
    ["assisted", "assisted escalation"],
    ["unresolved", "unresolved by the bot"],
    ["abandoned", "abandoned"],
    ["greeting_only", "greeting only"]
  ];
  var OUTCOME_WORDS = {};
  OUTCOMES.forEach(function (o) { OUTCOME_WORDS[o[0]] = o[1]; });
  var current = null;  // {start, end, grouping, reopen_days}
  var report = null;

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
  function query(extra) {
    var params = new URLSearchParams();
    var all = Object.assign({}, current, extra || {});
    Object.keys(all).forEach(function (key) {
      if (all[key] !== null && all[key] !== undefined && all[key] !== "") { params.set(key, String(all[key])); }
    });
    return params.toString();
  }

  /* a number that opens the conversations behind it */
  function drillButton(text, selection, title, range, className) {
    return el("button", { type: "button", className: className || "cell", text: String(text),
      "data-drill": JSON.stringify(selection),
      onclick: function () { drill(selection, title, range); } });
  }

  function fill(id, rows) {
    var body = C.clear(document.querySelector("#" + id + " tbody"));
    if (!rows.length) {
      var columns = document.querySelectorAll("#" + id + " thead th").length;
      body.appendChild(el("tr", {}, el("td", { colspan: columns, className: "empty", text: "None in this period." })));
    }
    rows.forEach(function (cells) {
      body.appendChild(el.apply(null, ["tr", {}].concat(cells.map(function (c) {
        return c instanceof Node ? el("td", {}, c) : el("td", { text: c === null || c === undefined ? "–" : c });
      }))));
    });
  }

  function drill(selection, title, range) {
    var extra = Object.assign({}, range || {}, selection);
    delete extra.grouping;
    var q = query(extra);
    var section = document.getElementById("drill");
    document.getElementById("drill-title").textContent = "Conversations: " + title;
    document.getElementById("drill-count").textContent = "Loading…";
    document.getElementById("drill-download").setAttribute("href", "/api/analytics/conversations?" + q + "&format=csv");
    section.hidden = false;
    C.api("GET", "/api/analytics/conversations?" + q + "&limit=1000").then(function (result) {
      if (!result.ok) { document.getElementById("drill-count").textContent = C.errorText(result); return; }
      var rows = result.data;
      document.getElementById("drill-count").textContent = rows.length === 1 ? "1 conversation." : rows.length + " conversations.";
      document.getElementById("quality").hidden = true;
      fill("drill-rows", rows.map(function (r) {
        var open = el("button", { type: "button", className: "cell", text: r.conversation_id,
          "aria-label": "Quality of " + r.conversation_id, onclick: function () { quality(r.conversation_id); } });
        return [open, new Date(r.started_at * 1000).toISOString().slice(0, 16).replace("T", " "),
          r.channel, r.tier, OUTCOME_WORDS[r.outcome] || r.outcome, r.handoffs ? (r.handoff_reason || "–") : "",
          secs(r.first_human_response_seconds),
          r.within_sla === null ? (r.handoffs ? "pending" : "") : (r.within_sla ? "yes" : "no"),
          r.csat_score === null ? "" : String(r.csat_score)];
      }));
      document.getElementById("drill-title").focus();
    });
  }

  function score(value) { return value === null || value === undefined ? "–" : value.toFixed(2); }
  function why(c) { return c.source === "llm" ? c.reason + " (LLM)" : c.reason; }

  /* the conversation's replies scored on the eight auto-QA categories */
  function quality(id) {
    C.api("GET", "/api/analytics/conversations/" + encodeURIComponent(id) + "/quality").then(function (result) {
      var box = document.getElementById("quality");
      if (!result.ok) { document.getElementById("drill-count").textContent = C.errorText(result); return; }
      var q = result.data;
      document.getElementById("quality-title").textContent = "Quality of " + q.conversation_id + ": bot "
        + score(q.bot.overall) + ", people " + score(q.agent.overall);
      fill("quality-rows", q.bot.categories.map(function (b, i) {
        var a = q.agent.categories[i];
        return [b.category.replace(/_/g, " "), score(b.score), why(b), score(a.score), why(a)];
      }));
      box.hidden = false;
      document.getElementById("quality-title").focus();
    });
  }

  function headline(r) {
    var t = r.totals;
    var box = C.clear(document.getElementById("headline"));
    var metrics = [
      ["m-volume", String(t.volume), "conversations (" + t.rated + " rated, greeting-only excluded)", {}, "all conversations"],
      ["m-containment", pct(t.containment_rate), "containment: the bot alone, not reopened (" + t.contained + " of " + t.rated + ")",
        { outcome: "contained" }, "contained by the bot"],
      ["m-resolution", pct(t.resolution_rate), "durable resolution: bot or person, not reopened",
        { resolution: true }, "durable resolutions"],
      ["m-fcr", pct(t.first_contact_resolution_rate), "first-contact resolution", { first_contact: true },
        "resolved at first contact"],
      ["m-handoffs", String(t.handoffs), "handoffs to a person", { handed_off: true }, "handed to a person"],
      ["m-sla", pct(t.within_sla_rate), "first human response within SLA (" + t.within_sla + " of " + t.sla_known + ")",
        { within_sla: true }, "answered within SLA"],
      ["m-csat", t.csat_average === null ? "–" : String(t.csat_average), "CSAT average (" + pct(t.csat_response_rate) + " responded)",
        { csat: true }, "rated by the client"]
    ];
    metrics.forEach(function (m) {
      var button = drillButton(m[1], m[3], m[4], null, "value");
      button.id = m[0];
      box.appendChild(el("div", { className: "metric" }, button, el("div", { className: "label", text: m[2] })));
    });
  }

  function charts(r) {
    var legend = C.clear(document.getElementById("trend-legend"));
    OUTCOMES.forEach(function (o) {
      legend.appendChild(el("span", {}, el("span", { className: "swatch seg-" + o[0] }), o[1]));
    });
    Charts.stacked(document.getElementById("chart-trend"), {
      label: "Conversations per " + r.grouping + " by outcome",
      bars: r.breakdowns.period.map(function (p) {
        return { key: p.key, label: p.key, total: p.volume, start: p.start, end: p.end,
          segments: OUTCOMES.map(function (o) { return { name: o[0], label: o[1], value: p.outcomes[o[0]] || 0 }; }) };
      }),
      onSelect: function (bar, segment) {
        drill({ outcome: segment.name }, bar.label + ", " + segment.label, { start: bar.start, end: bar.end });
      }
    });
    Charts.hbars(document.getElementById("chart-sla"), {
      label: "Share of handoffs answered within SLA, by tier",
      rows: r.first_response.map(function (t) {
        var known = t.handoffs - t.waiting;
        return { key: t.tier, label: t.tier + " (" + secs(t.sla_seconds) + ")", value: t.within_sla_rate, max: 1,
          className: t.within_sla_rate === null ? "" : (t.within_sla_rate >= 0.8 ? "good" : "poor"),
          text: t.within_sla_rate === null ? "no handoffs" : pct(t.within_sla_rate) + " (" + t.within_sla + " of " + known + ")" };
      }),
      onSelect: function (row) { drill({ tier: row.key, handed_off: true }, row.key + " handoffs"); }
    });
    var most = Math.max.apply(null, [1].concat(OUTCOMES.map(function (o) { return r.outcomes[o[0]] || 0; })));
    Charts.hbars(document.getElementById("chart-outcomes"), {
      label: "Conversations per outcome",
      rows: OUTCOMES.map(function (o) {
        var n = r.outcomes[o[0]] || 0;
        var base = o[0] === "greeting_only" ? r.totals.volume : r.totals.rated;
        return { key: o[0], label: o[1], value: n, max: most, className: "seg-" + o[0],
          text: n + (o[0] === "greeting_only" ? " (not rated)" : " (" + pct(base ? n / base : null) + ")") };
      }),
      onSelect: function (row) { drill({ outcome: row.key }, row.label); }
    });
  }

  function dimensionFilter(dimension, row) {
    if (dimension === "period") { return [{}, { start: row.start, end: row.end }]; }
    var selection = {};
    selection[dimension] = row.key;
    return [selection, null];
  }

  function kpiTable() {
    var dimension = document.getElementById("kpi-dimension").value;
    document.getElementById("kpi-download").setAttribute("data-table", dimension);
    links();
    fill("kpis", (report.breakdowns[dimension] || []).map(function (row) {
      var f = dimensionFilter(dimension, row);
      function cell(n, extra, words) {
        return drillButton(n, Object.assign({}, f[0], extra), row.key + ": " + words, f[1]);
      }
      return [row.key, cell(row.volume, {}, "all"), cell(row.contained, { outcome: "contained" }, "contained"),
        pct(row.containment_rate), cell(row.resolved_by_person, { outcome: "resolved" }, "resolved by a person"),
        pct(row.resolution_rate), pct(row.first_contact_resolution_rate),
        cell(row.handoffs, { handed_off: true }, "handed off"), secs(row.first_response_median_seconds),
        pct(row.within_sla_rate), row.csat_average === null ? "–" : String(row.csat_average)];
    }));
  }

  function links() {
    document.querySelectorAll("a.download[data-table]").forEach(function (a) {
      a.setAttribute("href", "/api/analytics/report/" + a.getAttribute("data-table") + ".csv?" + query());
    });
    document.getElementById("dl-conversations").setAttribute("href", "/api/analytics/report?" + query({ format: "csv" }));
  }

  function tables(r) {
    fill("frt", r.first_response.map(function (t) {
      return [t.tier, secs(t.sla_seconds), drillButton(t.handoffs, { tier: t.tier, handed_off: true }, t.tier + " handoffs"),
        t.answered, secs(t.median_seconds), secs(t.p90_seconds), secs(t.business_median_seconds),
        drillButton(pct(t.within_sla_rate) + " (" + t.within_sla + ")", { tier: t.tier, within_sla: true },
          t.tier + " within SLA"),
        secs(t.next_response_median_seconds)];
    }));
    fill("reasons", r.handoff_reasons.map(function (x) { return [x.label || x.reason, x.count]; }));
    fill("csat", r.csat_by_tier.map(function (c) {
      return [c.tier, drillButton(c.responses, { tier: c.tier, csat: true }, c.tier + " rated"),
        pct(c.response_rate), c.average === null ? "–" : String(c.average), pct(c.satisfied_rate)];
    }));
    kpiTable();
    var categories = ["greeting", "empathy", "spelling_grammar", "closing", "solution_offered", "tone",
      "readability", "comprehension"];
    fill("quality-agents", (r.quality || []).map(function (q) {
      return [q.speaker === "bot" ? "Bot" : q.key, q.conversations, score(q.overall)].concat(
        categories.map(function (c) { return score(q.categories[c]); }));
    }));
  }

  function load() {
    current = {
      start: document.getElementById("r-start").value,
      end: document.getElementById("r-end").value,
      grouping: document.getElementById("r-grouping").value,
      reopen_days: document.getElementById("r-reopen").value
    };
    links();
    status("Loading…");
    var range = "?start=" + encodeURIComponent(current.start) + "&end=" + encodeURIComponent(current.end);
    return Promise.all([C.api("GET", "/api/analytics/report?" + query()), C.api("GET", "/api/analytics/gaps" + range)])
      .then(function (results) {
        var result = results[0];
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        report = result.data;
        headline(report);
        charts(report);
        tables(report);
        var gaps = results[1].ok ? results[1].data : [];
        fill("gaps", gaps.map(function (g) { return [g.question, g.count, Object.keys(g.reasons).join(", ")]; }));
        document.getElementById("drill").hidden = true;
        document.getElementById("analytics").hidden = false;
        status("From " + report.range.start + " to " + report.range.end + ", by " + report.grouping + ".");
        document.dispatchEvent(new CustomEvent("analytics:loaded", { detail: { query: current, report: report } }));
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("range-form");
    var params = new URLSearchParams(window.location.search);
    var today = new Date();
    var monthAgo = new Date(today.getTime() - 29 * 86400000);
    document.getElementById("r-end").value = params.get("end") || isoDay(today);
    document.getElementById("r-start").value = params.get("start") || isoDay(monthAgo);
    if (params.get("grouping")) { document.getElementById("r-grouping").value = params.get("grouping"); }
    form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
    document.getElementById("kpi-dimension").addEventListener("change", kpiTable);
    load();
  });
  window.ConciergeAnalytics = { query: function (extra) { return query(extra); }, pct: pct, secs: secs };
})();
