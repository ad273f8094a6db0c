/* Automation rules page (managers, admins). Text from the API is set with textContent. */
(function () {
  "use strict";
  var C = window.Concierge;
  var el = C.el;
  var base = 0;

  function byId(id) { return document.getElementById(id); }
  function status(text, kind) { var n = byId("status"); n.textContent = text || ""; n.className = kind || "muted"; }
  function problems(result) {
    var list = byId("problems");
    C.clear(list);
    var detail = result && result.data && result.data.detail;
    ((detail && detail.problems) || []).forEach(function (p) { list.appendChild(el("li", { text: p })); });
  }

  function load() {
    C.api("GET", "/api/automation/rules").then(function (result) {
      if (!result.ok) { status(C.errorText(result), "error"); return; }
      base = result.data.version;
      byId("source").value = result.data.source;
      byId("version").textContent = "Version " + result.data.version + " by " + result.data.author;
      status("");
    });
    C.api("GET", "/api/automation/firings").then(function (result) {
      if (!result.ok) { return; }
      var body = byId("firings").querySelector("tbody");
      C.clear(body);
      result.data.forEach(function (f) {
        var actions = f.results.map(function (r) { return r.kind + (r.ok ? ": " : " (failed): ") + r.detail; });
        body.appendChild(el("tr", {},
          el("td", { text: C.formatDate(new Date(f.fired_at * 1000).toISOString()) }),
          el("td", {}, el("code", { text: f.rule_id })),
          el("td", { text: f.conversation }),
          el("td", { text: f.status }),
          el("td", { text: actions.join("; ") })));
      });
    });
  }

  function save() {
    var body = { source: byId("source").value, base_version: base, comment: byId("comment").value || null };
    C.api("PUT", "/api/automation/rules", body).then(function (result) {
      problems(result);
      if (!result.ok) { status(C.errorText(result), "error"); return; }
      status("Saved as version " + result.data.version + ".", "notice");
      load();
    });
  }

  function dryRun() {
    var body = { source: byId("source").value, days: Number(byId("days").value) || 30 };
    status("Counting…");
    C.api("POST", "/api/automation/dry-run", body).then(function (result) {
      problems(result);
      if (!result.ok) { status(C.errorText(result), "error"); return; }
      var tbody = byId("report").querySelector("tbody");
      C.clear(tbody);
      result.data.rules.forEach(function (r) {
        tbody.appendChild(el("tr", {}, el("td", { text: r.name }), el("td", { text: r.trigger }),
          el("td", { text: String(r.fired) }), el("td", { text: String(r.conversations) })));
      });
      status(result.data.conversations + " conversations read.", "notice");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!byId("automation")) { return; }
    byId("save").addEventListener("click", save);
    byId("dry-run").addEventListener("click", dryRun);
    load();
  });
})();
