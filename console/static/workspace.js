/* Concierge agent workspace: live queue, conversation view, replies, notes, suggestions.
 *
 * Data comes from /api/workspace/... (JSON) and the live socket /api/workspace/ws (see
 * console/routes/workspace_live.py for its frames). Every piece of client or user text is
 * put on the page as text (textContent / text nodes via Concierge.el), never as HTML.
 * Needs console-core.js (Concierge.api, Concierge.el, Concierge.clear).
 */
(function () {
  "use strict";

  var C = window.Concierge;
  var V = window.ConciergeWorkspaceView;
  var el = C.el;
  var $ = function (id) { return document.getElementById(id); };

  var state = {
    me: null,
    queue: [],
    clockOffset: 0,          // server time - local time, seconds
    openId: null,            // conversation shown
    view: null,              // its ConversationView
    shownSeq: null,          // highest transcript seq shown
    agents: [],
    socket: null,
    retry: 0,
    suggestTimer: null
  };

  function now() { return Date.now() / 1000 + state.clockOffset; }

  function sla(entry) { return V.sla(entry, now()); }

  function announce(text) {
    var region = $("announce");
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 30);
  }

  function showError(message) {
    var box = $("action-message");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // ---- queue -----------------------------------------------------------------------
  function renderQueue() {
    var list = $("queue-list");
    var focusedId = document.activeElement && document.activeElement.getAttribute("data-conversation");
    C.clear(list);
    var waiting = state.queue.filter(function (e) { return e.status === "queued"; }).length;
    $("queue-count").textContent = "(" + waiting + " waiting, " + (state.queue.length - waiting) + " with agents)";
    $("queue-empty").hidden = state.queue.length > 0;
    state.queue.forEach(function (entry) {
      list.appendChild(V.queueItem(entry, entry.conversation_id === state.openId, now(), function (id) {
        openConversation(id, true);
      }));
    });
    if (focusedId) {
      var again = list.querySelector('[data-conversation="' + CSS.escape(focusedId) + '"]');
      if (again) { again.focus(); }
    }
  }

  function tickClocks() {
    state.queue.forEach(function (entry) {
      var node = document.querySelector('[data-sla="' + CSS.escape(entry.conversation_id) + '"]');
      if (!node) { return; }
      var clock = sla(entry);
      node.textContent = clock.text;
      node.className = "sla " + clock.cls;
    });
    if (state.view && state.view.packet && state.view.packet.sla_deadline) { renderSla(); }
  }

  function onQueue(queue) {
    state.clockOffset = queue.now - Date.now() / 1000;
    var before = {};
    state.queue.forEach(function (e) { before[e.conversation_id] = true; });
    var fresh = queue.entries.filter(function (e) { return !before[e.conversation_id] && e.status === "queued"; });
    state.queue = queue.entries;
    renderQueue();
    if (fresh.length) {
      announce("New in the queue: " + fresh.map(function (e) {
        return e.tier + " " + (e.client_name || "client") + ", " + V.reasonText(e.reason);
      }).join("; "));
    }
    if (state.openId && state.view) {
      var mine = queue.entries.filter(function (e) { return e.conversation_id === state.openId; })[0];
      var open = state.view.status === "queued" || state.view.status === "assigned";
      var moved = mine ? (mine.status !== state.view.status || (mine.assigned_to || null) !== state.view.assigned_to)
        : open;
      if (moved) { refreshView(); }
    }
  }

  // ---- conversation ----------------------------------------------------------------------
  function appendLines(lines) {
    var box = $("transcript");
    var changed = false;
    var clientWrote = false;
    lines.forEach(function (line) {
      if (state.shownSeq !== null && line.seq <= state.shownSeq) { return; }
      box.appendChild(V.lineNode(line));
      state.shownSeq = line.seq;
      if (line.kind === "event") { changed = true; }
      if (line.kind === "client") { clientWrote = true; }
    });
    box.scrollTop = box.scrollHeight;
    if (changed) { refreshView(); }
    if (clientWrote) { scheduleSuggestions(); }
  }

  function renderSla() {
    var packet = state.view.packet;
    var entry = state.queue.filter(function (e) { return e.conversation_id === state.openId; })[0];
    if (entry) {
      var clock = sla(entry);
      $("packet-sla").textContent = clock.text;
      $("packet-sla").className = "sla " + clock.cls;
    } else if (packet && packet.queued_at) {
      $("packet-sla").textContent = "closed";
      $("packet-sla").className = "sla sla-done";
    }
  }

  function renderActions(view) {
    var allowed = {};
    view.allowed.forEach(function (a) { allowed[a] = true; });
    $("act-claim").hidden = !allowed.claim;
    $("assign-wrap").hidden = !allowed.assign;
    $("transfer-form").hidden = !allowed.transfer;
    $("act-resolve").hidden = !allowed.resolve;
    $("act-return").hidden = !allowed["return"];
    $("csat-wrap").hidden = !(allowed.resolve || (allowed["return"] && view.status === "assigned"));
    var box = $("reply-box");
    var canReply = !!allowed.reply;
    box.disabled = !canReply;
    $("reply-send").disabled = !canReply;
    box.placeholder = canReply ? "Write to " + (view.client ? view.client.first_name || "the client" : "the client") :
      view.status === "queued" ? "Claim the conversation to reply" :
      view.status === "assigned" ? (view.assigned_name || "Another agent") + " is replying" :
      "The bot has this conversation";
  }

  function renderView(view) {
    state.view = view;
    $("conv-placeholder").hidden = true;
    $("conv-body").hidden = false;
    $("conv-title").textContent = view.client ? view.client.name : V.conversationLabel(view.conversation_id);
    var tier = view.client ? view.client.tier : (view.packet ? view.packet.tier : "Standard");
    $("conv-tier").textContent = tier;
    $("conv-tier").className = "tier " + (V.TIER_CLASS[tier] || "");
    $("conv-status").textContent = V.STATUS_TEXT[view.status] +
      (view.status === "assigned" ? ": " + (view.holder_is_you ? "you" : view.assigned_name) : "");
    $("conv-channel").textContent = view.channel + " \u00b7 " + (view.language || "?").toUpperCase();
    var box = C.clear($("transcript"));
    view.lines.forEach(function (line) { box.appendChild(V.lineNode(line)); });
    box.scrollTop = box.scrollHeight;
    state.shownSeq = view.last_seq;
    renderActions(view);
    V.renderPacket(view);
    renderSla();
    V.renderClient(view);
    renderQueue();
  }

  function openConversation(id, focusReply) {
    var switching = id !== state.openId;
    state.openId = id;
    showError("");
    if (switching) {
      $("delivery").textContent = "";
      $("kb-query").value = "";
      history.replaceState(null, "", "/console/workspace?c=" + encodeURIComponent(id));
    }
    return C.api("GET", "/api/workspace/conversations/" + encodeURIComponent(id)).then(function (result) {
      if (!result.ok) { showError(C.errorText(result)); return; }
      if (state.openId !== id) { return; }
      renderView(result.data);
      sendOpen();
      if (switching) {
        loadSuggestions();
        loadCanned();
        if (focusReply) {
          var target = result.data.allowed.indexOf("claim") >= 0 ? $("act-claim") :
            (!$("reply-box").disabled ? $("reply-box") : $("transcript"));
          if (target === $("transcript")) { target.setAttribute("tabindex", "-1"); }
          target.focus();
        }
      }
    });
  }

  function refreshView() {
    if (!state.openId) { return; }
    var id = state.openId;
    C.api("GET", "/api/workspace/conversations/" + encodeURIComponent(id)).then(function (result) {
      if (result.ok && state.openId === id) {
        var active = document.activeElement;
        renderView(result.data);
        if (active && document.body.contains(active) && !active.disabled) { active.focus(); }
      }
    });
  }

  // ---- actions -------------------------------------------------------------------------------
  function act(path, body, success) {
    var id = state.openId;
    if (!id) { return Promise.resolve(); }
    showError("");
    return C.api("POST", "/api/workspace/conversations/" + encodeURIComponent(id) + "/" + path, body || {})
      .then(function (result) {
        if (!result.ok) { showError(C.errorText(result)); return result; }
        if (state.openId === id) { renderView(result.data.conversation); }
        if (success) { success(result.data); }
        return result;
      });
  }

  function onClaim() {
    act("claim", {}, function () {
      announce("You have the conversation.");
      if (focusIsFree($("act-claim"))) { $("reply-box").focus(); }
    });
  }

  function onAssign() {
    var agent = $("assign-agent").value;
    if (!agent) { return; }
    act("claim", { agent_id: agent }, function () { announce("Assigned."); });
  }

  function onTransfer(event) {
    event.preventDefault();
    var reason = $("transfer-reason").value.trim();
    if (!reason) { showError("Say why you transfer it (the next agent reads this)."); $("transfer-reason").focus(); return; }
    var to = $("transfer-to").value || null;
    act("transfer", { reason: reason, to_agent: to }, function () {
      $("transfer-reason").value = "";
      announce(to ? "Transferred." : "Back in the queue.");
      focusQueue();
    });
  }

  function onClose(path) {
    var ask = $("ask-csat").checked;
    act(path, { ask_csat: ask }, function (data) {
      var done = (path === "resolve" ? "Resolved" : "Returned to the bot");
      if (data.delivery && !data.delivery.delivered) {
        showError(done + ", but the CSAT question did not reach the client: " + (data.delivery.error || "") );
        return;
      }
      announce(done + (data.csat_asked ? "; the client was asked for CSAT." : "."));
      focusQueue();
    });
  }

  function onReply(event) {
    event.preventDefault();
    var box = $("reply-box");
    var text = box.value.trim();
    if (!text || box.disabled) { return; }
    $("reply-send").disabled = true;
    act("reply", { text: text }, function (data) {
      box.value = "";
      var delivery = data.delivery;
      var status = $("delivery");
      if (delivery && !delivery.delivered) {
        status.textContent = "Not delivered: " + (delivery.error || "the channel refused it") +
          " The reply is kept in the transcript.";
        status.className = "ws-delivery error";
      } else {
        status.textContent = delivery && delivery.queued ? "Sent (queued for delivery)." : "Sent.";
        status.className = "ws-delivery notice";
      }
    }).then(function () {
      $("reply-send").disabled = $("reply-box").disabled;
      if (focusIsFree($("reply-form"))) { box.focus(); }  // unless the agent moved on meanwhile
    });
  }

  function onNote(event) {
    event.preventDefault();
    var box = $("note-box");
    var text = box.value.trim();
    if (!text) { return; }
    act("notes", { text: text, to_client: $("note-to-client").checked }, function () {
      box.value = "";
      $("note-to-client").checked = false;
      announce("Note added.");
    });
  }

  // True when focus is nowhere in particular (the page) or still inside ``where``: moving it then
  // helps; taking it from somewhere the agent went meanwhile would not.
  function focusIsFree(where) {
    var active = document.activeElement;
    return !active || active === document.body || where.contains(active);
  }

  function insertText(text) {
    var box = $("reply-box");
    if (box.disabled) {
      showError("Claim the conversation before writing to the client.");
      return;
    }
    var start = box.selectionStart || 0, end = box.selectionEnd || 0;
    var before = box.value.slice(0, start), after = box.value.slice(end);
    var glue = before && !/\s$/.test(before) ? " " : "";
    box.value = before + glue + text + after;
    var caret = (before + glue + text).length;
    box.focus();
    box.setSelectionRange(caret, caret);
  }

  // ---- suggestions and canned replies ----------------------------------------------------------
  function scheduleSuggestions() {
    window.clearTimeout(state.suggestTimer);
    state.suggestTimer = window.setTimeout(function () {
      if (!$("kb-query").value.trim()) { loadSuggestions(); }
    }, 600);
  }

  function loadSuggestions(query) {
    var id = state.openId;
    if (!id) { return; }
    var url = "/api/workspace/conversations/" + encodeURIComponent(id) + "/suggestions" +
      (query ? "?q=" + encodeURIComponent(query) : "");
    $("kb-empty").hidden = false;
    $("kb-empty").textContent = "Searching…";
    C.api("GET", url).then(function (result) {
      if (state.openId !== id) { return; }
      var passages = C.clear($("kb-passages"));
      if (!result.ok) { $("kb-empty").textContent = C.errorText(result); return; }
      var data = result.data;
      $("kb-reply").hidden = !data.reply;
      if (data.reply) {
        $("kb-reply-text").textContent = data.reply;
        $("kb-reply-mode").textContent = data.reply_mode === "llm" ? "(LLM draft)" : "(from the articles)";
        $("kb-reply-sources").textContent = data.reply_sources.length ? "Source: " + data.reply_sources.join("; ") : "";
      }
      data.passages.forEach(function (p) {
        passages.appendChild(el("li", { className: "ws-passage" },
          el("p", { className: "ws-passage-title" }, p.title,
            el("span", { className: "muted" }, " \u00b7 score " + p.score.toFixed(2) + " \u00b7 " + p.language)),
          el("p", { className: "ws-passage-text" }, p.text),
          el("button", { type: "button", className: "button-quiet", "aria-label": "Insert passage from " + p.title,
            onclick: function () { insertText(p.text); } }, "Insert")));
      });
      $("kb-empty").hidden = data.passages.length > 0;
      $("kb-empty").textContent = !data.available ? "This project has no knowledge base." :
        !data.query ? "No client message to search for yet." : "Nothing relevant found.";
    });
  }

  function loadCanned() {
    var id = state.openId;
    C.api("GET", "/api/workspace/conversations/" + encodeURIComponent(id) + "/canned").then(function (result) {
      if (state.openId !== id || !result.ok) { return; }
      V.setList("canned-list", result.data, function (reply) {
        return el("li", null,
          el("button", { type: "button", className: "button-quiet ws-canned-button", title: reply.text,
            "aria-label": "Insert canned reply: " + reply.title, onclick: function () { insertText(reply.text); } },
            reply.title),
          el("span", { className: "ws-canned-text muted" }, reply.text));
      });
    });
  }

  // ---- agents and presence ------------------------------------------------------------------
  function loadAgents() {
    return C.api("GET", "/api/workspace/agents").then(function (result) {
      if (!result.ok) { return; }
      state.agents = result.data;
      ["assign-agent", "transfer-to"].forEach(function (id) {
        var select = $(id);
        var keep = id === "transfer-to" ? [select.options[0]] : [];
        C.clear(select);
        keep.forEach(function (o) { select.appendChild(o); });
        state.agents.forEach(function (a) {
          select.appendChild(el("option", { value: a.id },
            a.name + " (" + a.status + ", " + a.active_chats + "/" + a.max_chats + ")"));
        });
      });
    });
  }

  function onMe(me) {
    state.me = me;
    $("presence-wrap").hidden = !me.agent_id;
    if (me.status) { $("presence").value = me.status; }
  }

  function onPresence() {
    var status = $("presence").value;
    C.api("POST", "/api/workspace/presence", { status: status }).then(function (result) {
      if (!result.ok) { showError(C.errorText(result)); return; }
      onMe(result.data);
      announce("Your status: " + status + ".");
      loadAgents();
    });
  }

  // ---- live socket ---------------------------------------------------------------------------
  function sendOpen() {
    var ws = state.socket;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "open", conversation_id: state.openId, last_seq: state.shownSeq }));
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + window.location.host + "/api/workspace/ws");
    state.socket = ws;
    ws.addEventListener("open", function () {
      state.retry = 0;
      $("connection").textContent = "Live";
      $("connection").className = "ws-connection is-live";
      sendOpen();
    });
    ws.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "queue") { onQueue(frame.queue); }
      else if (frame.type === "me") { onMe(frame.me); }
      else if (frame.type === "lines" && frame.conversation_id === state.openId && state.view) { appendLines(frame.lines); }
      else if (frame.type === "mention") { announce(frame.mention.author + " mentioned you in a note."); }
      else if (frame.type === "error") { $("connection").textContent = frame.message; }
    });
    ws.addEventListener("close", function (event) {
      if (event.code === 4401) { window.location.assign("/console/login?next=/console/workspace"); return; }
      if (event.code === 4403) { $("connection").textContent = "Your role cannot use the workspace."; return; }
      $("connection").textContent = "Reconnecting…";
      $("connection").className = "ws-connection is-down";
      state.retry = Math.min(state.retry + 1, 6);
      window.setTimeout(connect, 500 * Math.pow(2, state.retry - 1));
    });
  }

  // ---- keyboard ----------------------------------------------------------------------------
  function focusQueue() {
    var items = $("queue-list").querySelectorAll(".ws-item");
    var open = $("queue-list").querySelector(".ws-item.is-open");
    var target = open || items[0];
    if (target) { target.focus(); } else { $("queue-title").setAttribute("tabindex", "-1"); $("queue-title").focus(); }
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    if (event.key === "Escape" && typing(target)) { target.blur(); focusQueue(); return; }
    if (target && target.classList && target.classList.contains("ws-item") &&
        (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      var items = Array.prototype.slice.call($("queue-list").querySelectorAll(".ws-item"));
      var index = items.indexOf(target) + (event.key === "ArrowDown" ? 1 : -1);
      if (items[index]) { items[index].focus(); }
      event.preventDefault();
      return;
    }
    if (typing(target)) { return; }
    var keys = {
      q: focusQueue,
      r: function () { if (!$("reply-box").disabled && !$("conv-body").hidden) { $("reply-box").focus(); } },
      n: function () { if (!$("conv-body").hidden) { $("note-box").focus(); } },
      k: function () { if (!$("conv-body").hidden) { $("kb-query").focus(); } },
      c: function () { if (!$("act-claim").hidden) { onClaim(); } }
    };
    if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("act-claim").addEventListener("click", onClaim);
    $("act-assign").addEventListener("click", onAssign);
    $("transfer-form").addEventListener("submit", onTransfer);
    $("act-resolve").addEventListener("click", function () { onClose("resolve"); });
    $("act-return").addEventListener("click", function () { onClose("return"); });
    $("reply-form").addEventListener("submit", onReply);
    $("reply-box").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { onReply(event); }
    });
    $("note-form").addEventListener("submit", onNote);
    $("kb-form").addEventListener("submit", function (event) {
      event.preventDefault();
      loadSuggestions($("kb-query").value.trim());
    });
    $("kb-reply-insert").addEventListener("click", function () { insertText($("kb-reply-text").textContent); });
    $("presence").addEventListener("change", onPresence);
    document.addEventListener("keydown", onKey);
    window.setInterval(tickClocks, 1000);
    loadAgents();
    connect();
    var wanted = new URLSearchParams(window.location.search).get("c");
    if (wanted) { openConversation(wanted, false); }
  });
})();
