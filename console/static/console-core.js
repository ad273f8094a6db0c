/* Concierge console: shared helpers for every console page (no third-party code).
 *
 * Concierge.api(method, url, body) -> Promise<{ok, status, data}>: JSON in and out, with the
 *   X-CSRF-Token header every change needs (read from <meta name="csrf-token">). A 401 sends
 *   the browser to the login page.
 * Concierge.el(tag, attrs, ...children): builds elements; strings become text nodes, never HTML.
 * Concierge.clear(node), Concierge.formatDate(iso)
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function api(method, url, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET" && method !== "HEAD") {
      options.headers["X-CSRF-Token"] = csrfToken();
    }
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      if (response.status === 401 && url.indexOf("/console/login") !== 0) {
        window.location.assign("/console/login?next=" + encodeURIComponent(window.location.pathname));
      }
      if (response.status === 204) {
        return { ok: response.ok, status: response.status, data: null };
      }
      return response.json().then(
        function (data) { return { ok: response.ok, status: response.status, data: data }; },
        function () { return { ok: response.ok, status: response.status, data: null }; }
      );
    });
  }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === "text") { node.textContent = String(value); }
      else if (key === "className") { node.className = value; }
      else if (key.indexOf("on") === 0 && typeof value === "function") { node.addEventListener(key.slice(2), value); }
      else { node.setAttribute(key, value === true ? "" : String(value)); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) { continue; }
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
    return node;
  }

  function formatDate(iso) {
    if (!iso) { return ""; }
    var date = new Date(iso);
    return isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
  }

  function errorText(result) {
    var data = result && result.data;
    if (data && typeof data.message === "string") { return data.message; }
    if (data && data.detail && typeof data.detail.message === "string") { return data.detail.message; }
    return "Something went wrong (" + (result ? result.status : "network") + ").";
  }

  window.Concierge = { api: api, el: el, clear: clear, formatDate: formatDate, errorText: errorText,
    csrfToken: csrfToken };

  document.addEventListener("DOMContentLoaded", function () {
    var logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", function () {
        api("POST", "/console/logout").then(function () { window.location.assign("/console/login"); });
      });
    }
  });
})();
