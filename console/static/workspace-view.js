/* Concierge agent workspace: how queue entries, transcript lines, the packet and the client card
 * look. Pure rendering: every value from the server is put on the page as text (Concierge.el
 * builds text nodes), never as HTML. Used by workspace.js; needs console-core.js.
 */
(function () {
  "use strict";

  var C = window.Concierge;
  var el = C.el;
  var $ = function (id) { return document.getElementById(id); };

  var TIER_CLASS = { VIP: "tier-vip", Premium: "tier-premium", Standard: "tier-standard" };
  // the priority an automation rule set (``set_priority``); "normal" shows nothing
  var RULE_PRIORITY = { urgent: "Urgent", high: "High", low: "Low" };
  var STATUS_TEXT = { queued: "Waiting", assigned: "With an agent", resolved: "Resolved", bot: "With the bot" };
  var KIND_LABEL = { client: "Client", bot: "Bot", system: "System", note: "Internal note", event: "" };
  var REASONS = {
    client_request: "asked for a person",
    sentiment: "mood falling",
    repeated_fallback: "bot did not understand"
  };

  function reasonText(reason) {
    if (!reason) { return "no reason given"; }
    if (REASONS[reason]) { return REASONS[reason]; }
    if (reason.indexOf("rule:") === 0) { return reason.slice(5).replace(/_/g, " "); }
    return reason.replace(/_/g, " ");
  }

  function formatSeconds(total) {
    var s = Math.abs(Math.round(total));
    if (s < 90) { return s + " s"; }
    var m = Math.floor(s / 60);
    if (m < 90) { return m + " min " + (s % 60) + " s"; }
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function sentimentText(score, label) {
    if (score === null || score === undefined) { return "no sentiment yet"; }
    var sign = score > 0 ? "+" : (score < 0 ? "\u2212" : "");
    return (label || (score <= -0.25 ? "negative" : score >= 0.25 ? "positive" : "neutral")) +
      " (" + sign + Math.abs(score).toFixed(2) + ")";
  }

  function sentimentClass(score) {
    if (score === null || score === undefined) { return "mood-none"; }
    return score <= -0.25 ? "mood-neg" : score >= 0.25 ? "mood-pos" : "mood-neutral";
  }

  // SLA: text and class at ``now`` (epoch seconds); colour is never the only signal, the words say it too
  function sla(entry, now) {
    if (entry.answered) { return { text: "answered", cls: "sla-done" }; }
    var left = entry.deadline - now;
    if (left < 0) { return { text: formatSeconds(left) + " overdue", cls: "sla-over" }; }
    var share = left / Math.max(1, entry.deadline - entry.queued_at);
    return { text: formatSeconds(left) + " left", cls: share < 0.34 ? "sla-warn" : "sla-ok" };
  }

  // What people read for a conversation nobody is recognised in: "Visitor dec1" for a widget
  // session, "Telegram 4411" for another channel, never the raw "widget:dec1ff2f-..." (the id
  // itself stays in data-conversation for the code).
  function conversationLabel(conversationId) {
    var at = conversationId.indexOf(":");
    var channel = at < 0 ? "" : conversationId.slice(0, at);
    var tail = conversationId.slice(at + 1).replace(/[^0-9a-zA-Z]/g, "").slice(0, 4);
    var who = !channel || channel === "widget" ? "Visitor" : channel.charAt(0).toUpperCase() + channel.slice(1);
    return who + " " + tail;
  }

  // One queue entry: a button that opens the conversation
  function queueItem(entry, isOpen, now, onOpen) {
    var clock = sla(entry, now);
    var name = entry.client_name || conversationLabel(entry.conversation_id);
    var who = entry.status === "assigned" ? "with " + (entry.assigned_name || entry.assigned_to) : "waiting";
    var button = el("button", {
      type: "button", className: "ws-item" + (isOpen ? " is-open" : ""),
      "data-conversation": entry.conversation_id,
      "aria-current": isOpen ? "true" : null,
      onclick: function () { onOpen(entry.conversation_id); }
    },
      el("span", { className: "ws-item-top" },
        el("span", { className: "tier " + (TIER_CLASS[entry.tier] || "") }, entry.tier),
        RULE_PRIORITY[entry.rule_priority] ? el("span", {
          className: "rule-priority rule-priority-" + entry.rule_priority,
          title: "Set by an automation rule; ranks the queue first"
        }, RULE_PRIORITY[entry.rule_priority]) : null,
        el("span", { className: "ws-item-name" }, name),
        el("span", { className: "sla " + clock.cls, "data-sla": entry.conversation_id }, clock.text)),
      el("span", { className: "ws-item-reason" }, "Reason: " + reasonText(entry.reason)),
      el("span", { className: "ws-item-meta" },
        el("span", { className: "mood " + sentimentClass(entry.sentiment) },
          "Mood: " + sentimentText(entry.sentiment, entry.sentiment_label)),
        " \u00b7 " + (entry.language || "?").toUpperCase() + " \u00b7 " + entry.channel + " \u00b7 " + who),
      entry.last_message ? el("span", { className: "ws-item-last" }, entry.last_message) : null);
    return el("li", null, button);
  }

  function lineNode(line) {
    var cls = "ws-line ws-" + line.kind;
    var who = line.kind === "agent" ? (line.author || "Agent") + " (agent)" :
      line.kind === "note" ? "Internal note by " + (line.author || "staff") : KIND_LABEL[line.kind];
    var node = el("li", { className: cls, "data-seq": line.seq },
      who ? el("span", { className: "ws-who" }, who + ": ") : null,
      el("span", { className: "ws-text" }, line.text || ""));
    if (line.kind === "client" && line.sentiment !== null && line.sentiment !== undefined) {
      node.appendChild(el("span", { className: "ws-line-mood mood " + sentimentClass(line.sentiment) },
        " \u00b7 " + sentimentText(line.sentiment, line.sentiment_label)));
    }
    if (line.buttons && line.buttons.length) {
      node.appendChild(el("span", { className: "ws-line-buttons muted" }, " [" + line.buttons.join(" | ") + "]"));
    }
    var time = new Date(line.timestamp * 1000);
    node.appendChild(el("time", { className: "ws-time", datetime: time.toISOString() },
      time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
    return node;
  }

  function setList(id, items, render) {
    var list = C.clear($(id));
    items.forEach(function (item) { list.appendChild(render(item)); });
    if (!items.length) { list.appendChild(el("li", { className: "muted" }, "none")); }
  }

  function renderPacket(view) {
    var packet = view.packet;
    $("packet-reason").textContent = packet ? reasonText(packet.reason) +
      (packet.reason_detail ? " \u2014 " + packet.reason_detail : "") : "not handed off";
    $("packet-routing").textContent = view.routing || (packet ? "" : "\u2014");
    $("packet-mood").textContent = view.sentiment_trend || "no scored messages";
    $("packet-summary").textContent = packet ? packet.summary : "";
    setList("packet-key", packet ? packet.key_messages : [], function (m) {
      return el("li", null, "\u201c" + m.text + "\u201d",
        m.sentiment !== null && m.sentiment !== undefined ? el("span", { className: "muted" },
          " (" + sentimentText(m.sentiment) + ")") : null);
    });
    var tried = packet ? packet.bot_attempts.filter(function (a) { return a.action || a.text; }) : [];
    setList("packet-tried", tried.slice(-6), function (a) {
      return el("li", null, a.action ? a.action.replace(/^action_|^utter_/, "").replace(/_/g, " ") : "", a.text ?
        el("span", { className: "muted" }, (a.action ? ": " : "") + a.text.slice(0, 140)) : null);
    });
    $("packet-sources").textContent = packet && packet.knowledge_sources.length ?
      "Knowledge cited: " + packet.knowledge_sources.join(", ") : "";
  }

  function renderClient(view) {
    var client = view.client;
    $("client-none").hidden = !!client;
    $("client-card").hidden = !client;
    // what the client typed or a caller sent about themselves: never proof, so labelled
    var claimed = view.unverified_contact;
    var said = claimed ? [claimed.name, claimed.phone, claimed.email].filter(Boolean).join(" \u00b7 ") : "";
    $("client-claimed").hidden = !said;
    $("client-claimed").textContent = said ? "Says they are: " + said + " (unverified)" : "";
    if (client) {
      $("client-name").textContent = client.name;
      $("client-tier").textContent = client.tier;
      $("client-tier").className = "tier " + (TIER_CLASS[client.tier] || "");
      $("client-tier-reason").textContent = client.tier_reason;
      var facts = C.clear($("client-facts"));
      var add = function (term, value) {
        if (value === null || value === undefined || value === "") { return; }
        facts.appendChild(el("dt", null, term));
        facts.appendChild(el("dd", null, String(value)));
      };
      add("Visits", client.visit_count + " in all, " + client.visits_12m + " in 12 months");
      add("Spend (12 months)", client.spend_12m.toFixed(0) + " PLN");
      add("Concierge", client.concierge_name || client.concierge_agent_id);
      add("Studio", client.home_location);
      add("Membership", client.membership);
      add("Language", client.language);
      add("Birthday", client.birthday);
      add("Coming up", client.milestones.join("; "));
      add("Reaches us on", client.channels.join(", "));
      setList("client-prefs", Object.keys(client.preferences), function (key) {
        return el("li", null, el("span", { className: "ws-key" }, key + ": "), client.preferences[key]);
      });
      setList("client-visits", client.recent_visits.slice(0, 5), function (v) {
        return el("li", null, v.visited_on + " \u00b7 " + (v.service || v.category) +
          (v.location ? " \u00b7 " + v.location : "") + (v.staff ? " \u00b7 " + v.staff : ""));
      });
      setList("client-notes", client.notes.slice(-5), function (n) {
        return el("li", null, n.text, el("span", { className: "muted" }, " \u2014 " + n.author));
      });
    }
    $("client-trend").textContent = view.sentiment_trend || "";
    setList("client-sentiment", view.sentiment.slice(-8), function (p) {
      return el("li", { className: "mood " + sentimentClass(p.score) }, sentimentText(p.score, p.label));
    });
  }

  window.ConciergeWorkspaceView = {
    TIER_CLASS: TIER_CLASS, STATUS_TEXT: STATUS_TEXT, reasonText: reasonText, sla: sla, queueItem: queueItem,
    conversationLabel: conversationLabel,
    lineNode: lineNode, setList: setList, renderPacket: renderPacket, renderClient: renderClient
  };
})();
