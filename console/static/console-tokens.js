/* API tokens section of the users page (admins). Text from the API is set with textContent;
 * a new token's secret is put in a read-only input once and cleared when dismissed. */
(function () {
  "use strict";
  var C = window.Concierge;
  var el = C.el;

  function status(text, kind) {
    var node = document.getElementById("tokens-status");
    node.textContent = text || "";
    node.className = kind || "muted";
  }

  function showSecret(secret) {
    var box = document.getElementById("token-secret");
    var input = document.getElementById("token-value");
    input.value = secret;
    box.hidden = false;
    input.focus();
    input.select();
  }

  function hideSecret() {
    document.getElementById("token-value").value = "";
    document.getElementById("token-secret").hidden = true;
  }

  function row(token, reload) {
    var revoke = el("button", {
      type: "button", className: "button-danger", text: "Revoke", disabled: token.state === "revoked",
      onclick: function () {
        if (!window.confirm("Revoke the token " + token.name + "? Systems using it are refused at once.")) { return; }
        C.api("DELETE", "/api/tokens/" + token.id).then(function (result) {
          status(result.ok ? "Revoked " + token.name + "." : C.errorText(result), result.ok ? "notice" : "error");
          reload();
        });
      }
    });
    return el("tr", {},
      el("td", { text: token.name }),
      el("td", {}, el("code", { text: token.hint + "…" })),
      el("td", { text: token.scopes.join(", ") }),
      el("td", { text: token.state }),
      el("td", { text: C.formatDate(token.expires_at) }),
      el("td", { text: token.last_used_at ? C.formatDate(token.last_used_at) : "never" }),
      el("td", { text: token.created_by }),
      el("td", {}, revoke)
    );
  }

  function load() {
    C.api("GET", "/api/tokens").then(function (result) {
      if (!result.ok) { status(C.errorText(result), "error"); return; }
      var body = C.clear(document.querySelector("#tokens tbody"));
      result.data.forEach(function (token) { body.appendChild(row(token, load)); });
      if (document.getElementById("tokens-status").className === "muted") {
        status(result.data.length ? result.data.length + " tokens" : "No API tokens yet.");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("token-form");
    if (!form) { return; }
    document.getElementById("token-done").addEventListener("click", hideSecret);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var scopes = Array.prototype.map.call(
        form.querySelectorAll('input[name="scopes"]:checked'), function (box) { return box.value; });
      var body = {
        name: document.getElementById("t-name").value.trim(),
        scopes: scopes,
        expires_days: Number(document.getElementById("t-days").value)
      };
      C.api("POST", "/api/tokens", body).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        form.reset();
        showSecret(result.data.token);
        status("Made the token " + result.data.name + ".", "notice");
        load();
      });
    });
    load();
  });
})();
