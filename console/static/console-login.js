/* The login form: posts JSON with the form's CSRF token; shows the server's message as text. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("login-form");
    var error = document.getElementById("login-error");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      fetch("/console/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
          "X-CSRF-Token": form.getAttribute("data-csrf") },
        body: JSON.stringify({
          username: form.elements.username.value,
          password: form.elements.password.value,
          next: form.getAttribute("data-next")
        })
      }).then(function (response) {
        return response.json().then(function (data) { return { response: response, data: data }; });
      }).then(function (result) {
        if (result.response.ok) {
          window.location.assign(result.data.next);
          return;
        }
        error.textContent = (result.data && result.data.message) || "Sign-in failed.";
        error.hidden = false;
        button.disabled = false;
        form.elements.password.value = "";
        form.elements.password.focus();
      }).catch(function () {
        error.textContent = "The server could not be reached. Try again.";
        error.hidden = false;
        button.disabled = false;
      });
    });
  });
})();
