/* Clients page: search and page through client profiles, open one, and (managers, admins) change
 * it, add an identity or import a CSV. The open client is in the address (#client=ID), so the
 * back button and a shared link work. Text from the API is set with textContent, never as HTML.
 */
(function () {
  "use strict";
  var C = window.Concierge;
  var el = C.el;
  var PAGE = 50;
  var DEBOUNCE_MS = 300;
  var TIERS = ["VIP", "Premium", "Standard"];

  function byId(id) { return document.getElementById(id); }

  function say(node, text, kind) {
    node.textContent = text || "";
    node.className = text ? (kind || "muted") : "";
  }

  function status(text, kind) { say(byId("status"), text, kind); }

  function money(amount) {
    return Number(amount || 0).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function notSet() { return el("span", { className: "muted", text: "not set" }); }

  function fill(id, value) {
    var node = C.clear(byId(id));
    node.appendChild(value === null || value === undefined || value === "" ? notSet()
      : (typeof value === "string" || typeof value === "number" ? document.createTextNode(String(value)) : value));
  }

  function tierBadge(tier, reason) {
    var kind = TIERS.indexOf(tier) >= 0 ? tier : "Standard";
    return el("span", {},
      el("span", { className: "tier tier-" + kind, text: tier }),
      el("span", { className: "tier-reason", text: reason || "" }));
  }

  function fullName(client) {
    var name = ((client.first_name || "") + " " + (client.last_name || "")).trim();
    if (name) { return name; }
    var first = client.identities && client.identities[0];
    return first ? first.kind + ":" + first.value : client.id;
  }

  function clientFromHash() {
    var match = /^#client=(.+)$/.exec(window.location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function hashFor(id) { return "#client=" + encodeURIComponent(id); }

  function page(root) {
    var canEdit = root.getAttribute("data-can-edit") === "true";
    var query = "";
    var offset = 0;
    var total = 0;
    var listSeq = 0;
    var current = null;
    var timer = null;

    /* ---- list ------------------------------------------------------------ */
    function row(client) {
      var link = el("a", { href: hashFor(client.id), text: client.name });
      link.addEventListener("click", function (event) {
        if (window.location.hash === hashFor(client.id)) { event.preventDefault(); open(client.id, true); }
      });
      var identities = el("ul", { className: "plain-list" });
      client.identities.forEach(function (identity) { identities.appendChild(el("li", { text: identity })); });
      return el("tr", { "data-id": client.id, "aria-current": current && current.id === client.id ? "true" : null },
        el("th", { scope: "row" }, link,
          client.external_id ? el("span", { className: "subline", text: client.external_id }) : null),
        el("td", {}, tierBadge(client.tier, client.tier_reason)),
        el("td", { className: "identities" }, identities),
        el("td", {}, client.concierge_agent_id ? client.concierge_agent_id : notSet()),
        el("td", { className: "num", text: client.visit_count }),
        el("td", { className: "num", text: money(client.spend_12m) })
      );
    }

    function load(announce) {
      var seq = ++listSeq;
      var url = "/api/clients?limit=" + PAGE + "&offset=" + offset + "&q=" + encodeURIComponent(query);
      return C.api("GET", url).then(function (result) {
        if (seq !== listSeq) { return; }  // a newer search answered first
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        total = result.data.total;
        var body = C.clear(document.querySelector("#client-table tbody"));
        result.data.clients.forEach(function (client) { body.appendChild(row(client)); });
        if (!result.data.clients.length) {
          body.appendChild(el("tr", {}, el("td", { colspan: "6", className: "empty",
            text: query ? "No client matches “" + query + "”." : "No clients yet." })));
        }
        var shown = result.data.clients.length;
        byId("c-range").textContent = shown ? (offset + 1) + "–" + (offset + shown) + " of " + total : "0 of " + total;
        byId("c-prev").disabled = offset === 0;
        byId("c-next").disabled = offset + shown >= total;
        if (announce) {
          status(total === 1 ? "1 client" + (query ? " matches." : ".")
            : total + " clients" + (query ? " match." : "."));
        }
      }, function () { status("The server cannot be reached. Try again in a moment.", "error"); });
    }

    function search(force) {
      window.clearTimeout(timer);
      timer = null;
      var value = byId("c-search").value.trim();
      if (value === query && !force) { return; }
      query = value;
      offset = 0;
      load(true);
    }

    byId("c-search").addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { search(false); }, DEBOUNCE_MS);
    });
    byId("search-form").addEventListener("submit", function (event) {
      event.preventDefault();
      search(true);
    });
    byId("c-prev").addEventListener("click", function () { offset = Math.max(0, offset - PAGE); load(true); });
    byId("c-next").addEventListener("click", function () { offset += PAGE; load(true); });

    /* ---- profile --------------------------------------------------------- */
    function list(id, items, render) {
      var node = C.clear(byId(id));
      if (!items.length) { node.appendChild(el("li", { className: "muted", text: "none" })); }
      items.forEach(function (item) { node.appendChild(render(item)); });
    }

    function render(client) {
      current = client;
      byId("profile").hidden = false;
      byId("p-name").textContent = fullName(client);
      fill("p-external", client.external_id);
      fill("p-tier", tierBadge(client.tier, client.tier_reason));
      fill("p-override", client.tier_override || "none (computed)");
      fill("p-language", client.language);
      fill("p-birthday", client.birthday);
      fill("p-membership", client.membership);
      fill("p-concierge", client.concierge_agent_id);
      fill("p-location", client.home_location);
      fill("p-visits", client.visit_count + " in all, " + client.visits_12m + " in the last 12 months (spend " +
        money(client.spend_12m) + ")" + (client.first_visit ? "; first on " + client.first_visit : ""));
      list("p-identities", client.identities, function (i) {
        return el("li", {}, el("span", { className: "muted", text: i.kind + ": " }), i.value);
      });
      var prefs = C.clear(byId("p-preferences"));
      var keys = Object.keys(client.preferences || {});
      if (!keys.length) { prefs.appendChild(el("dd", { className: "muted", text: "none" })); }
      keys.forEach(function (key) {
        prefs.appendChild(el("dt", { text: key }));
        prefs.appendChild(el("dd", { text: client.preferences[key] }));
      });
      list("p-milestones", client.milestones, function (m) {
        return el("li", { text: m.description + (m.on ? " (" + m.on + ")" : "") });
      });
      var visits = C.clear(byId("p-recent").querySelector("tbody"));
      client.recent_visits.forEach(function (v) {
        visits.appendChild(el("tr", {},
          el("td", { className: "nowrap", text: v.visited_on }),
          el("td", { text: v.category + (v.service ? " · " + v.service : "") }),
          el("td", { text: v.location || "" }),
          el("td", { text: v.staff || "" }),
          el("td", { className: "num", text: money(v.amount) + " " + (v.currency || "") })));
      });
      if (!client.recent_visits.length) {
        visits.appendChild(el("tr", {}, el("td", { colspan: "5", className: "empty", text: "No visits yet." })));
      }
      list("p-notes", client.notes, function (n) {
        return el("li", {}, n.text, " ", el("span", { className: "muted", text: "(" + n.author + ", " +
          C.formatDate(n.created_at) + ")" }));
      });
      if (canEdit) { fillForm(client); }
      Array.prototype.forEach.call(document.querySelectorAll("#client-table tbody tr[data-id]"), function (tr) {
        if (tr.getAttribute("data-id") === client.id) { tr.setAttribute("aria-current", "true"); }
        else { tr.removeAttribute("aria-current"); }
      });
    }

    function open(id, focus) {
      return C.api("GET", "/api/clients/" + encodeURIComponent(id)).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        if (result.data.id !== id && window.history.replaceState) {  // merged away: show the survivor
          window.history.replaceState(null, "", hashFor(result.data.id));
        }
        render(result.data);
        if (focus) { byId("p-name").focus(); }
      }, function () { status("The server cannot be reached. Try again in a moment.", "error"); });
    }

    window.addEventListener("hashchange", function () {
      var id = clientFromHash();
      if (id) { open(id, true); }
    });

    /* ---- changes (managers, admins) -------------------------------------- */
    var FIELDS = [
      ["e-first", "first_name"], ["e-last", "last_name"], ["e-language", "language"],
      ["e-membership", "membership"], ["e-override", "tier_override"], ["e-concierge", "concierge_agent_id"],
      ["e-location", "home_location"]
    ];

    function fillForm(client) {
      FIELDS.forEach(function (pair) { byId(pair[0]).value = client[pair[1]] || ""; });
    }

    function changes() {
      var body = {};
      FIELDS.forEach(function (pair) {
        var value = byId(pair[0]).value.trim();
        var before = current[pair[1]] || "";
        if (value !== before) { body[pair[1]] = value === "" ? null : value; }
      });
      return body;
    }

    function setupEditing() {
      var editStatus = byId("edit-status");
      var identityStatus = byId("identity-status");

      byId("edit-form").addEventListener("submit", function (event) {
        event.preventDefault();
        if (!current) { return; }
        var body = changes();
        if (!Object.keys(body).length) { say(editStatus, "Nothing to save: no field was changed.", "muted"); return; }
        C.api("PATCH", "/api/clients/" + encodeURIComponent(current.id), body).then(function (result) {
          if (!result.ok) { say(editStatus, C.errorText(result), "error"); return; }
          render(result.data);
          say(editStatus, "Saved. Tier: " + result.data.tier + " (" + result.data.tier_reason + ").", "notice");
          load(false);
        }, function () { say(editStatus, "The server cannot be reached. Nothing was saved.", "error"); });
      });

      byId("identity-form").addEventListener("submit", function (event) {
        event.preventDefault();
        if (!current) { return; }
        var value = byId("i-value").value.trim();
        if (!value) { say(identityStatus, "Enter the phone number, e-mail or handle to add.", "error"); return; }
        var before = current;
        var body = { kind: byId("i-kind").value, value: value };
        C.api("POST", "/api/clients/" + encodeURIComponent(before.id) + "/identities", body).then(function (result) {
          if (!result.ok) { say(identityStatus, C.errorText(result), "error"); return; }
          var merged = result.data.id !== before.id || result.data.identities.length > before.identities.length + 1;
          if (result.data.id !== before.id && window.history.replaceState) {
            window.history.replaceState(null, "", hashFor(result.data.id));
          }
          render(result.data);
          byId("i-value").value = "";
          say(identityStatus, merged ? "Added; another client had it, so the two profiles were merged."
            : "Added " + body.kind + ".", "notice");
          load(false);
        }, function () { say(identityStatus, "The server cannot be reached. Nothing was added.", "error"); });
      });

      byId("import-form").addEventListener("submit", function (event) {
        event.preventDefault();
        var out = byId("import-result");
        var file = byId("import-file").files[0];
        if (!file) { say(out, "Choose a CSV file first.", "error"); return; }
        say(out, "Importing " + file.name + "…", "muted");
        file.text().then(function (text) {
          return fetch("/api/clients/import", {
            method: "POST", credentials: "same-origin", body: text,
            headers: { "Content-Type": "text/csv", "Accept": "application/json", "X-CSRF-Token": C.csrfToken() }
          });
        }).then(function (response) {
          return response.json().then(
            function (data) { return { ok: response.ok, status: response.status, data: data }; },
            function () { return { ok: response.ok, status: response.status, data: null }; });
        }).then(function (result) {
          if (!result.ok) { say(out, C.errorText(result), "error"); return; }
          var report = result.data;
          say(out, "Imported " + report.rows + (report.rows === 1 ? " row" : " rows") + " into " + report.clients +
            (report.clients === 1 ? " client" : " clients") + "; " + report.merged_rows +
            (report.merged_rows === 1 ? " row" : " rows") + " merged into another row's client.", "notice");
          event.target.reset();
          load(false);
          if (current) { open(current.id, false); }
        }, function () { say(out, "The file could not be read or sent. Nothing was imported.", "error"); });
      });
    }

    if (canEdit) { setupEditing(); }
    load(true);
    var initial = clientFromHash();
    if (initial) { open(initial, false); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = byId("clients");
    if (root) { page(root); }
  });
})();
