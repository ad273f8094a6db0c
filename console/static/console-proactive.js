/* Outreach awaiting approval (agents, managers, admins). Text from the API is set with textContent. */
(function () {
  "use strict";
  var C = window.Concierge;
  var el = C.el;

  function byId(id) { return document.getElementById(id); }
  function status(text, kind) { var n = byId("status"); n.textContent = text || ""; n.className = kind || "muted"; }

  function decide(id, verdict) {
    C.api("POST", "/api/proactive/approvals/" + id + "/" + verdict).then(function (result) {
      if (!result.ok) { status(C.errorText(result), "error"); return; }
      status(verdict === "approve" ? "Approved: it goes out at its time." : "Rejected: it will not be sent.");
      load();
    });
  }

  function button(label, id, verdict, quiet) {
    var b = el("button", { text: label });
    b.type = "button";
    if (quiet) { b.className = "button-quiet"; }
    b.addEventListener("click", function () { decide(id, verdict); });
    return b;
  }

  function load() {
    C.api("GET", "/api/proactive/approvals").then(function (result) {
      if (!result.ok) { status(C.errorText(result), "error"); return; }
      var body = byId("approvals").querySelector("tbody");
      C.clear(body);
      result.data.forEach(function (row) {
        var tr = el("tr");
        tr.appendChild(el("td", { text: new Date(row.due_at).toLocaleString() }));
        tr.appendChild(el("td", { text: row.kind }));
        tr.appendChild(el("td", { text: row.conversation_id }));
        tr.appendChild(el("td", { text: row.text }));
        var cell = el("td");
        cell.appendChild(button("Approve", row.id, "approve", false));
        cell.appendChild(button("Reject", row.id, "reject", true));
        tr.appendChild(cell);
        body.appendChild(tr);
      });
      if (!result.data.length) { status("Nothing is waiting for approval."); }
    });
  }

  load();
})();
