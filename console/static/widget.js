/*
 * Concierge chat widget for Mariia Hub. Plain JavaScript, no dependencies, no build step.
 *
 * Embed it on any page with one line (GET /widget/snippet prints it for a running server):
 *
 *   <script src="https://host/static/widget.js" data-concierge-url="https://host" async></script>
 *
 * data-concierge-url is the Concierge server (default: where the script came from). The widget
 * talks to <url>/webhooks/widget/ws over a WebSocket (protocol: bot/channels/widget.py):
 *   - a session id kept in localStorage names the conversation across visits;
 *   - every line carries a seq; on (re)connect the widget says hello with the last seq it shows
 *     and receives only what it missed, so nothing is lost or shown twice;
 *   - each message has a client id; unacknowledged messages are kept (also in localStorage) and
 *     re-sent after a reconnect with the same id, and the server answers them once;
 *   - reconnects back off exponentially (0.5 s doubling to 30 s, with jitter).
 * Message text is always set with textContent, never parsed as HTML.
 * The page can call window.ConciergeWidget.open() / .close().
 *
 * A site whose visitor is logged in adds data-client-token="<token>" to the script tag: the
 * customer's e-mail or phone signed by the site's server with the secret it shares with Concierge
 * (CONCIERGE_WIDGET_SECRET; format in bot/channels/widget_identity.py). The widget sends it in every
 * hello; the server verifies it and recognises the client (tier, history), or ignores a bad token.
 * window.ConciergeWidget.identify(token) switches to another identity (null: anonymous) in a new
 * conversation, e.g. when a customer logs in or out without a page load.
 * A page with a Content-Security-Policy must allow the server's origin in script-src, style-src
 * and connect-src (its ws:/wss: URL). Until a visitor opens the chat, nothing is stored and no
 * socket is opened.
 */
(function () {
  "use strict";
  if (window.ConciergeWidget) return; // embedded twice: keep the first

  var script = document.currentScript || document.querySelector("script[data-concierge-url]");
  var scriptUrl = script && script.src ? new URL(script.src, location.href) : new URL(location.href);
  var base = ((script && script.getAttribute("data-concierge-url")) || scriptUrl.origin).replace(/\/+$/, "");
  var wsUrl = base.replace(/^http/i, "ws") + "/webhooks/widget/ws";
  var clientToken = (script && script.getAttribute("data-client-token")) || null;
  var BRAND = "Mariia Hub";
  var SESSION_KEY = "concierge.session";
  var OUTBOX_KEY = "concierge.outbox";
  var MAX_TEXT = 4000;

  // ---- storage (localStorage may be blocked; then the session lives as long as the page) ----
  var memory = {};
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { memory[key] = value; }
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var sessionId = load(SESSION_KEY);
  var returning = !!sessionId && /^[A-Za-z0-9_-]{8,64}$/.test(sessionId);
  if (!returning) sessionId = newId(); // kept only once the visitor opens the chat
  var outbox = [];
  try { outbox = JSON.parse(load(OUTBOX_KEY) || "[]") || []; } catch (e) { outbox = []; }
  function saveOutbox() { save(OUTBOX_KEY, JSON.stringify(outbox)); }

  // ---- state ----
  var lastSeq = null;        // highest seq shown
  var shown = {};            // seq -> true
  var pending = {};          // client_id -> bubble element not yet confirmed by an entry
  var titles = {};           // quick-reply payload -> title, to show "Book a facial", not "/book"
  var ws = null, ready = false, attempts = 0, retryTimer = null, isOpen = false, unread = 0;

  // ---- DOM (in a shadow root, so the host page's CSS and ours never meet) ----
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    if (text != null) node.textContent = text;
    return node;
  }
  var host = el("div", { id: "concierge-widget" });
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  root.appendChild(el("link", { rel: "stylesheet", href: base + "/static/widget.css" }));

  var launcher = el("button", {
    type: "button", "class": "cw-launcher", "aria-expanded": "false",
    "aria-controls": "cw-panel", "aria-label": "Open chat with " + BRAND
  });
  launcher.appendChild(el("span", { "class": "cw-launcher-icon", "aria-hidden": "true" }));
  launcher.appendChild(el("span", { "class": "cw-launcher-text" }, "Chat with us"));
  var badge = el("span", { "class": "cw-badge", "aria-hidden": "true" });
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = el("section", { id: "cw-panel", "class": "cw-panel", role: "dialog", "aria-label": "Chat with " + BRAND });
  panel.hidden = true;
  var header = el("header", { "class": "cw-header" });
  var heading = el("div", { "class": "cw-heading" });
  heading.appendChild(el("h2", { "class": "cw-title" }, BRAND));
  var status = el("p", { "class": "cw-status", role: "status" }, "Connecting…");
  heading.appendChild(status);
  var closeBtn = el("button", { type: "button", "class": "cw-close", "aria-label": "Close chat" });
  closeBtn.appendChild(el("span", { "aria-hidden": "true" }, "×"));
  header.appendChild(heading);
  header.appendChild(closeBtn);

  var log = el("div", { "class": "cw-log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("div", { "class": "cw-typing", role: "status" });
  typing.appendChild(el("span", { "class": "cw-dots", "aria-hidden": "true" }));
  typing.appendChild(el("span", { "class": "cw-typing-text" }, BRAND + " is typing…"));
  typing.hidden = true;
  var replies = el("div", { "class": "cw-replies", role: "group", "aria-label": "Suggested replies" });
  replies.hidden = true;

  var form = el("form", { "class": "cw-form" });
  var label = el("label", { "for": "cw-input", "class": "cw-sr" }, "Your message");
  var input = el("textarea", { id: "cw-input", "class": "cw-input", rows: "1", maxlength: String(MAX_TEXT), placeholder: "Write a message…", autocomplete: "off" });
  var sendBtn = el("button", { type: "submit", "class": "cw-send" }, "Send");
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(sendBtn);

  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(replies);
  panel.appendChild(form);
  root.appendChild(launcher);
  root.appendChild(panel);

  // ---- rendering ----
  var SPEAKER = { client: "You", bot: BRAND, agent: BRAND + " team", system: "Notice" };

  function firstPending() {
    for (var node = log.firstChild; node; node = node.nextSibling) {
      if (node.classList && node.classList.contains("cw-pending")) return node;
    }
    return null;
  }

  function bubble(sender, text, extra) {
    var item = el("div", { "class": "cw-msg cw-" + sender + (extra ? " " + extra : "") });
    item.appendChild(el("span", { "class": sender === "agent" ? "cw-who" : "cw-who cw-sr" }, SPEAKER[sender] + ": "));
    item.appendChild(el("span", { "class": "cw-text" }, text));
    return item;
  }

  function showReplies(buttons) {
    while (replies.firstChild) replies.removeChild(replies.firstChild);
    (buttons || []).forEach(function (b) {
      titles[b.payload] = b.title;
      var button = el("button", { type: "button", "class": "cw-reply" }, b.title);
      button.addEventListener("click", function () {
        sendMessage({ payload: b.payload, title: b.title });
        input.focus(); // the chosen button is gone; keep keyboard users in the conversation
      });
      replies.appendChild(button);
    });
    replies.hidden = !replies.firstChild;
  }

  function render(entry, live) {
    if (typeof entry.seq !== "number" || shown[entry.seq]) return;
    shown[entry.seq] = true;
    if (lastSeq === null || entry.seq > lastSeq) lastSeq = entry.seq;
    var mine = entry.sender === "client" && entry.message_id && pending[entry.message_id];
    if (mine) { // our own message, now stored: keep the bubble, place it by seq
      delete pending[entry.message_id];
      mine.classList.remove("cw-pending", "cw-failed");
      mine.removeAttribute("aria-label");
      dropFromOutbox(entry.message_id);
      log.insertBefore(mine, firstPending());
      return;
    }
    var text = entry.text || "";
    if (entry.sender === "client" && titles[text]) text = titles[text];
    var item = bubble(entry.sender in SPEAKER ? entry.sender : "bot", text);
    if (entry.image && /^https?:\/\//i.test(entry.image)) {
      item.appendChild(el("img", { "class": "cw-image", src: entry.image, alt: "Image from " + BRAND, loading: "lazy" }));
    }
    log.insertBefore(item, firstPending());
    if (entry.sender !== "client") {
      showReplies(entry.buttons);
      if (live && !isOpen) { unread += 1; updateBadge(); }
    } else {
      showReplies([]);
    }
    scrollDown();
  }

  function notice(text) {
    log.insertBefore(bubble("system", text, "cw-notice"), firstPending());
    scrollDown();
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function updateBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    launcher.setAttribute("aria-label", unread
      ? "Open chat with " + BRAND + ", " + unread + " new message" + (unread > 1 ? "s" : "")
      : "Open chat with " + BRAND);
  }

  // ---- sending ----
  function dropFromOutbox(clientId) {
    outbox = outbox.filter(function (m) { return m.client_id !== clientId; });
    saveOutbox();
  }

  function transmit(item) {
    if (!ready) return;
    var frame = { type: "message", client_id: item.client_id };
    if (item.payload) { frame.payload = item.payload; frame.title = item.title; } else { frame.text = item.text; }
    ws.send(JSON.stringify(frame));
  }

  function showPending(item) {
    var node = bubble("client", item.payload ? item.title || item.payload : item.text, "cw-pending");
    node.setAttribute("aria-label", "Sending: " + (item.title || item.text || ""));
    pending[item.client_id] = node;
    log.appendChild(node);
    scrollDown();
  }

  function sendMessage(body) {
    var item = { client_id: newId(), text: body.text, payload: body.payload, title: body.title };
    outbox.push(item);
    saveOutbox();
    showReplies([]);
    showPending(item);
    transmit(item);
    connect();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendMessage({ text: text.slice(0, MAX_TEXT) });
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  // ---- the socket ----
  function onFrame(frame) {
    if (frame.type === "history") {
      attempts = 0;
      status.textContent = "Online";
      (frame.entries || []).forEach(function (entry) { render(entry, false); });
      outbox.slice().forEach(transmit); // whatever the history did not confirm goes again, same ids
    } else if (frame.type === "ack") {
      dropFromOutbox(frame.client_id);
    } else if (frame.type === "typing") {
      typing.hidden = !frame.on;
      if (frame.on) scrollDown();
    } else if (frame.type === "message" && frame.entry) {
      render(frame.entry, true);
    } else if (frame.type === "error") {
      notice(frame.message || "Sorry, something went wrong.");
      var item = frame.client_id && outbox.filter(function (m) { return m.client_id === frame.client_id; })[0];
      if (!frame.client_id && frame.retry && ws) {
        ws.close(); // the conversation could not be loaded: reconnect (with backoff) and say hello again
      } else if (item && frame.retry) {
        setTimeout(function () { transmit(item); }, 3000);
      } else if (item) {
        dropFromOutbox(item.client_id);
        var failed = pending[item.client_id];
        if (failed) {
          failed.classList.add("cw-failed");
          failed.setAttribute("aria-label", "Not sent: " + (item.title || item.text || ""));
          failed.appendChild(el("span", { "class": "cw-note" }, "Not sent"));
        }
      }
    }
  }

  function connect() {
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) return;
    if (!returning) { save(SESSION_KEY, sessionId); returning = true; }
    clearTimeout(retryTimer);
    retryTimer = null;
    status.textContent = attempts ? "Reconnecting…" : "Connecting…";
    var socket = new WebSocket(wsUrl);
    ws = socket;
    socket.onopen = function () {
      ready = true;
      var hello = { type: "hello", session_id: sessionId, last_seq: lastSeq };
      if (clientToken) hello.client_token = clientToken;
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    socket.onclose = function () {
      if (ws !== socket) return;
      ready = false;
      ws = null;
      typing.hidden = true;
      status.textContent = "Offline, reconnecting…";
      var delay = Math.min(30000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
      attempts += 1;
      retryTimer = setTimeout(connect, delay);
    };
  }
  window.addEventListener("online", function () { attempts = 0; connect(); });

  // ---- open and close ----
  function open() {
    if (isOpen) return;
    isOpen = true;
    panel.hidden = false;
    host.classList.add("cw-open");
    launcher.setAttribute("aria-expanded", "true");
    unread = 0;
    updateBadge();
    connect();
    scrollDown();
    input.focus();
  }
  function close() {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = true;
    host.classList.remove("cw-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  launcher.addEventListener("click", function () { isOpen ? close() : open(); });
  closeBtn.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.stopPropagation(); close(); }
  });

  // ---- identity ----
  function identify(token) {
    clientToken = token || null;
    sessionId = newId(); // another person: another conversation
    save(SESSION_KEY, sessionId);
    returning = true;
    lastSeq = null;
    shown = {};
    pending = {};
    outbox = [];
    saveOutbox();
    while (log.firstChild) log.removeChild(log.firstChild);
    showReplies([]);
    typing.hidden = true;
    if (ws) {
      var old = ws;
      ws = null; // its onclose sees it is no longer current and does not reconnect
      ready = false;
      old.onmessage = null; // nothing more from the previous conversation
      old.close();
    }
    clearTimeout(retryTimer);
    attempts = 0;
    if (isOpen) connect();
  }

  outbox.forEach(showPending); // sent before a reload, not yet confirmed
  window.ConciergeWidget = { open: open, close: close, identify: identify };
  function mount() {
    document.body.appendChild(host);
    if (returning || outbox.length) connect(); // a returning visitor hears agent replies at once
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
