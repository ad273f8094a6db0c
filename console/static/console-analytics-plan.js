/* Analytics page, planning part: return on the bot (with its formula), next week's staffing
 * beside the roster (a 7 x 24 grid of agents needed, drawn as inline SVG), and the scheduled
 * report subscriptions. Text only through textContent. */
(function () {
  "use strict";
  var C = window.Concierge;
  var el = C.el;
  var NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }
  function money(value, currency) { return value.toFixed(2) + " " + currency; }
  function pct(rate) { return rate === null || rate === undefined ? "–" : (rate * 100).toFixed(1) + "%"; }

  function roi(report) {
    var r = report.roi;
    if (!r) { return; }
    document.getElementById("roi-hours").textContent = r.hours_saved.toFixed(2) + " h";
    document.getElementById("roi-net").textContent = money(r.net_saving, r.currency);
    document.getElementById("roi-formula").textContent =
      "hours saved = " + r.contained + " contained × " + r.minutes_per_conversation + " min ÷ 60 = "
      + r.hours_saved.toFixed(2) + " h; gross saving = " + r.hours_saved.toFixed(2) + " h × "
      + money(r.cost_per_agent_hour, r.currency) + " = " + money(r.gross_saving, r.currency)
      + "; bot cost = " + r.conversations + " conversations × " + money(r.cost_per_conversation, r.currency)
      + " = " + money(r.bot_cost, r.currency) + "; net saving = " + money(r.net_saving, r.currency) + ".";
  }

  function grid(container, forecast) {
    var cell = 26, left = 44, top = 22;
    var root = svg("svg", { viewBox: "0 0 " + (left + 24 * cell + 4) + " " + (top + 7 * cell + 4),
      width: left + 24 * cell + 4, height: top + 7 * cell + 4, role: "group",
      "aria-label": "Agents needed per hour of next week", "class": "chart-svg" });
    for (var h = 0; h < 24; h += 3) {
      root.appendChild(svg("text", { x: left + h * cell + cell / 2, y: 14, "text-anchor": "middle", "class": "axis" },
        (h < 10 ? "0" : "") + h));
    }
    var roster = forecast.roster ? forecast.roster.agents : null;
    forecast.hours.forEach(function (hour) {
      var row = Math.floor(hour.hour_of_week / 24);
      if (hour.hour === 0) {
        root.appendChild(svg("text", { x: left - 6, y: top + row * cell + cell / 2 + 4, "text-anchor": "end",
          "class": "axis" }, hour.day));
      }
      var group = svg("g", { "class": "staff-hour", "data-day": hour.day, "data-hour": hour.hour,
        "data-agents": hour.agents, "data-handoffs": hour.handoffs });
      var level = Math.min(hour.agents, 5);
      var short = roster !== null && hour.agents > roster;
      group.appendChild(svg("rect", { x: left + hour.hour * cell, y: top + row * cell, width: cell - 2, height: cell - 2,
        "class": "heat heat-" + level + (short ? " short" : "") }));
      if (hour.agents > 0) {
        group.appendChild(svg("text", { x: left + hour.hour * cell + (cell - 2) / 2, y: top + row * cell + cell / 2 + 3,
          "text-anchor": "middle", "class": "heat-label" }, hour.agents));
      }
      var tiers = Object.keys(hour.agents_by_tier).map(function (t) { return t + " " + hour.agents_by_tier[t]; });
      group.appendChild(svg("title", {}, hour.day + " " + hour.hour + ":00 — " + hour.conversations
        + " conversations, " + hour.handoffs + " handoffs forecast; " + hour.agents + " agent(s) ("
        + tiers.join(", ") + ")"));
      root.appendChild(group);
    });
    C.clear(container).appendChild(root);
  }

  function staffing() {
    C.api("GET", "/api/analytics/staffing").then(function (result) {
      var status = document.getElementById("staffing-status");
      if (!result.ok) { status.textContent = C.errorText(result); return; }
      var f = result.data;
      status.textContent = "Week from " + f.week_start + " (" + f.timezone + "), from " + f.history_weeks
        + " week(s) of history.";
      document.getElementById("st-roster").textContent = f.roster
        ? f.roster.agents + " agents, " + f.roster.chat_slots + " chat slots" : "no agents file";
      document.getElementById("st-peak").textContent = String(f.peak_agents);
      document.getElementById("st-short").textContent = String(f.short_hours);
      document.getElementById("st-wape").textContent = pct(f.conversations_backtest.wape);
      document.getElementById("st-wape-handoffs").textContent = pct(f.handoffs_backtest.wape);
      document.getElementById("st-assumptions").textContent = "Erlang C: " + Math.round(f.target_share * 100)
        + "% of each tier's handoffs answered within its SLA (" + Object.keys(f.sla_seconds).map(function (t) {
          return t + " " + f.sla_seconds[t] + " s"; }).join(", ") + "), " + f.handle_minutes + " min per conversation, "
        + f.chat_concurrency + " chats per agent, occupancy at most " + Math.round(f.max_occupancy * 100) + "%.";
      grid(document.getElementById("chart-staffing"), f);
      document.getElementById("staffing-body").hidden = false;
    });
  }

  function subscriptions(message) {
    C.api("GET", "/api/analytics/subscriptions").then(function (result) {
      var body = C.clear(document.querySelector("#subs tbody"));
      document.getElementById("subs-status").textContent = message || (result.ok ? "" : C.errorText(result));
      var rows = result.ok ? result.data : [];
      if (!rows.length) {
        body.appendChild(el("tr", {}, el("td", { colspan: 5, className: "empty", text: "Nobody gets a report yet." })));
      }
      rows.forEach(function (s) {
        var remove = el("button", { type: "button", className: "button-quiet", text: "Remove",
          "aria-label": "Remove the " + s.frequency + " report to " + s.email,
          onclick: function () {
            C.api("DELETE", "/api/analytics/subscriptions/" + s.id).then(function (done) {
              subscriptions(done.ok ? "Removed." : C.errorText(done));
            });
          } });
        body.appendChild(el("tr", {}, el("td", { text: s.email }), el("td", { text: s.frequency }),
          el("td", { text: s.last_period ? s.last_period + " (" + C.formatDate(s.last_sent_at) + ")" : "not yet" }),
          el("td", { text: s.last_error || "" }), el("td", {}, remove)));
      });
    });
  }

  document.addEventListener("analytics:loaded", function (event) { roi(event.detail.report); });
  document.addEventListener("DOMContentLoaded", function () {
    staffing();
    subscriptions();
    document.getElementById("subs-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { email: document.getElementById("s-email").value.trim(),
        frequency: document.getElementById("s-frequency").value };
      C.api("POST", "/api/analytics/subscriptions", body).then(function (result) {
        if (result.ok) { document.getElementById("s-email").value = ""; }
        subscriptions(result.ok ? "Subscribed " + result.data.email + " (" + result.data.frequency + ")." : C.errorText(result));
      });
    });
  });
})();
