/* Demo page: the hero button opens the chat widget (which loads asynchronously), and in demo
 * mode a "chat as" picker switches the widget to a demo client: the page fetches that client's
 * signed token from /demo/identity/<key> (what a real site's server would render into the
 * embed's data-client-token) and hands it to the widget. */
document.getElementById("open-chat").addEventListener("click", function () {
  if (window.ConciergeWidget) window.ConciergeWidget.open();
});

(function () {
  "use strict";
  var picker = document.getElementById("chat-as");
  if (!picker) return;
  var status = document.getElementById("chat-as-status");
  var buttons = Array.prototype.slice.call(picker.querySelectorAll("button[data-identity]"));

  function switchTo(button, token, label) {
    buttons.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
    if (window.ConciergeWidget) {
      window.ConciergeWidget.identify(token);
      window.ConciergeWidget.open();
    }
    status.textContent = "Chatting as " + label + ".";
  }

  picker.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-identity]") : null;
    if (!button) return;
    var key = button.getAttribute("data-identity");
    if (!key) { switchTo(button, null, "an anonymous visitor"); return; }
    status.textContent = "Switching…";
    fetch("/demo/identity/" + encodeURIComponent(key), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { switchTo(button, data.token, data.name + " (" + data.tier + ")"); })
      .catch(function () { status.textContent = "Sorry, the demo could not switch clients just now."; });
  });
})();
