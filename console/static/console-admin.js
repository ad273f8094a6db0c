/* Users (admins) and audit log (managers, admins) pages. Text from the API is set with textContent. */
(function () {
  "use strict";
  var C = window.Concierge;
  var el = C.el;

  function status(text, kind) {
    var node = document.getElementById("status");
    node.textContent = text || "";
    node.className = kind || "muted";
  }

  /* ---- users ------------------------------------------------------------- */
  function usersPage(root) {
    var self = Number(root.getAttribute("data-self"));
    var roleOptions = document.getElementById("roles").content;

    function change(user, changes, done) {
      C.api("PATCH", "/api/users/" + user.id, changes).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); load(); return; }
        status(done, "notice");
        load();
      });
    }

    function row(user) {
      var role = el("select", { "aria-label": "Role of " + user.username, disabled: user.id === self });
      role.appendChild(roleOptions.cloneNode(true));
      role.value = user.role;
      role.addEventListener("change", function () {
        change(user, { role: role.value }, user.username + " is now " + role.value + ".");
      });
      var toggle = el("button", {
        type: "button", className: user.disabled ? "button-quiet" : "button-danger",
        text: user.disabled ? "Enable" : "Disable", disabled: user.id === self,
        onclick: function () {
          change(user, { disabled: !user.disabled }, user.username + (user.disabled ? " enabled." : " disabled."));
        }
      });
      var reset = el("button", {
        type: "button", className: "button-quiet", text: "Reset password",
        onclick: function () {
          var password = window.prompt("New password for " + user.username + " (10+ characters):");
          if (!password) { return; }
          C.api("POST", "/api/users/" + user.id + "/password", { password: password }).then(function (result) {
            status(result.ok ? "Password reset for " + user.username + "; their sessions were ended."
              : C.errorText(result), result.ok ? "notice" : "error");
          });
        }
      });
      return el("tr", {},
        el("td", {}, el("code", { text: user.username })),
        el("td", { text: user.display_name }),
        el("td", {}, role),
        el("td", { text: user.agent_id || "" }),
        el("td", { text: user.disabled ? "disabled" : "active" }),
        el("td", {}, el("div", { className: "row" }, toggle, reset))
      );
    }

    function load() {
      C.api("GET", "/api/users").then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        var body = C.clear(document.querySelector("#users tbody"));
        result.data.forEach(function (user) { body.appendChild(row(user)); });
        if (document.getElementById("status").className === "muted") { status(result.data.length + " users"); }
      });
    }

    document.getElementById("user-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      var body = {
        username: document.getElementById("u-username").value.trim().toLowerCase(),
        display_name: document.getElementById("u-name").value.trim(),
        role: document.getElementById("u-role").value,
        agent_id: document.getElementById("u-agent").value || null,
        password: document.getElementById("u-password").value
      };
      C.api("POST", "/api/users", body).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        form.reset();
        status("Added " + result.data.username + ".", "notice");
        load();
      });
    });
    load();
  }

  /* ---- audit ------------------------------------------------------------- */
  function auditPage() {
    function load() {
      var params = [];
      [["actor", "a-actor"], ["action", "a-action"], ["target", "a-target"]].forEach(function (pair) {
        var value = document.getElementById(pair[1]).value.trim();
        if (value) { params.push(pair[0] + "=" + encodeURIComponent(value)); }
      });
      var since = document.getElementById("a-since").value;
      var until = document.getElementById("a-until").value;
      if (since) { params.push("since=" + encodeURIComponent(since + "T00:00:00")); }
      if (until) { params.push("until=" + encodeURIComponent(until + "T23:59:59")); }
      C.api("GET", "/api/audit?" + params.join("&")).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        var body = C.clear(document.querySelector("#audit tbody"));
        result.data.entries.forEach(function (e) {
          body.appendChild(el("tr", {},
            el("td", { text: C.formatDate(e.at) }),
            el("td", { text: e.actor + (e.actor_role ? " (" + e.actor_role + ")" : "") }),
            el("td", {}, el("code", { text: e.action })),
            el("td", { text: e.target }),
            el("td", {}, el("code", { text: JSON.stringify(e.detail) }))
          ));
        });
        status("Showing " + result.data.entries.length + " of " + result.data.total + " entries.");
      });
    }
    document.getElementById("audit-form").addEventListener("submit", function (event) { event.preventDefault(); load(); });
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("admin");
    if (!root) { return; }
    if (root.getAttribute("data-page") === "users") { usersPage(root); } else { auditPage(); }
  });
})();
