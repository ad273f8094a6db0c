/* Knowledge editor pages: article list, edit form with versions and publishing, try a question,
 * golden report, gaps. Everything from the API is shown with textContent, never as HTML. */
(function () {
  "use strict";
  var C = window.Concierge;
  var el = C.el;
  var API = "/api/knowledge";

  function status(text, kind) {
    var node = document.getElementById("status");
    node.textContent = text || "";
    node.className = kind || "muted";
  }

  function fmt(n) { return typeof n === "number" ? n.toFixed(3) : ""; }

  function statusBadge(value) { return el("span", { className: "status status-" + value, text: value }); }

  /* ---- article list ---------------------------------------------------- */
  function listPage() {
    C.api("GET", API + "/articles").then(function (result) {
      if (!result.ok) { status(C.errorText(result), "error"); return; }
      var table = document.getElementById("articles");
      var body = C.clear(table.querySelector("tbody"));
      result.data.forEach(function (a) {
        body.appendChild(el("tr", {},
          el("td", {}, el("a", { href: "/console/knowledge/articles/" + encodeURIComponent(a.id), text: a.title || a.id })),
          el("td", {}, el("code", { text: a.id })),
          el("td", { text: a.category }),
          el("td", { text: a.language }),
          el("td", {}, statusBadge(a.status)),
          el("td", { text: "latest " + a.latest_version + (a.published_version ? ", live " + a.published_version : ", none live") }),
          el("td", { text: a.updated_by + ", " + C.formatDate(a.updated_at) })
        ));
      });
      table.hidden = false;
      status(result.data.length + " articles");
    });
  }

  /* ---- edit form --------------------------------------------------------- */
  function field(id) { return document.getElementById(id); }

  function fillForm(article) {
    field("f-title").value = article.title || "";
    field("f-category").value = article.category || "general";
    field("f-language").value = article.language || "en";
    field("f-tags").value = (article.tags || []).join(", ");
    field("f-valid-from").value = article.valid_from || "";
    field("f-valid-to").value = article.valid_to || "";
    field("f-answer").value = article.answer || "";
    field("f-body").value = article.body || "";
  }

  function formContent() {
    var tags = field("f-tags").value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
    return {
      title: field("f-title").value.trim(),
      category: field("f-category").value.trim() || "general",
      language: field("f-language").value.trim() || "en",
      tags: tags,
      valid_from: field("f-valid-from").value || null,
      valid_to: field("f-valid-to").value || null,
      answer: field("f-answer").value.trim() || null,
      body: field("f-body").value
    };
  }

  function lostFacts(g) {
    return (g.facts || []).filter(function (f) { return f.status !== "present"; })
      .map(function (f) { return "“" + f.fact + "” " + f.status; }).join("; ");
  }

  function factSummary(g) {
    var facts = g.facts || [];
    if (!facts.length) { return ""; }
    var lost = lostFacts(g);
    return lost ? lost : facts.length + " stated";
  }

  function showRefusal(result) {
    var box = document.getElementById("refusal");
    var detail = result.data && result.data.detail;
    if (result.status !== 409 || !detail || !detail.failing) {
      box.hidden = true;
      status(C.errorText(result), "error");
      return;
    }
    document.getElementById("refusal-message").textContent = detail.message;
    var body = C.clear(box.querySelector("tbody"));
    detail.failing.forEach(function (g) {
      body.appendChild(el("tr", {},
        el("td", { text: g.question }),
        el("td", { text: g.language }),
        el("td", { text: g.expect.length ? g.expect.join(", ") : "no answer" }),
        el("td", { text: g.got || "no answer" }),
        el("td", { text: lostFacts(g) }),
        el("td", { text: fmt(g.score) })
      ));
    });
    box.hidden = false;
    status("Refused: " + detail.failing.length + " golden question(s) would fail or lose a fact.", "error");
    box.focus();
  }

  /* The server computes the diff (knowledge/diff.py); it is built here from text nodes only. */
  function diffLine(line) {
    var kind = line.op;
    if (kind === "skip") {
      return el("div", { className: "diff-line diff-skip" },
        el("span", { className: "diff-num", text: "" }), el("span", { className: "diff-num", text: "" }),
        el("span", { className: "diff-text", text: "… " + line.skipped + " unchanged line" + (line.skipped === 1 ? "" : "s") }));
    }
    var text = el("span", { className: "diff-text" });
    line.segments.forEach(function (s) {
      if (s.op === "insert") { text.appendChild(el("ins", { text: s.text })); }
      else if (s.op === "delete") { text.appendChild(el("del", { text: s.text })); }
      else { text.appendChild(document.createTextNode(s.text)); }
    });
    var mark = { insert: "+", "delete": "−", change: "~", equal: "" }[kind] || "";
    return el("div", { className: "diff-line diff-" + kind },
      el("span", { className: "diff-num", text: line.old === null ? "" : line.old, title: "live line" }),
      el("span", { className: "diff-num", text: line.new === null ? "" : line.new, title: "draft line" }),
      el("span", { className: "diff-mark", "aria-hidden": "true", text: mark }),
      text);
  }

  function showDiff(diff) {
    var summary = document.getElementById("diff-summary");
    var box = C.clear(document.getElementById("diff"));
    if (diff.base_version === null) {
      summary.textContent = "Nothing is live yet: everything in version " + diff.target_version + " is new.";
    } else if (!diff.changed) {
      summary.textContent = "Version " + diff.target_version + " says the same as live version "
        + diff.base_version + ": nothing to publish.";
    } else {
      summary.textContent = "Version " + diff.target_version + " against live version " + diff.base_version
        + ": " + diff.fields.length + " field" + (diff.fields.length === 1 ? "" : "s") + " changed.";
    }
    diff.fields.forEach(function (f) {
      var lines = el("div", { className: "diff-lines" });
      f.lines.forEach(function (line) { lines.appendChild(diffLine(line)); });
      box.appendChild(el("section", { className: "diff-field", "data-field": f.field },
        el("h3", { text: f.label }), lines));
    });
  }

  /* The preview's HTML comes from the server (knowledge/preview.py: no raw HTML, safe links
   * only); it is parsed inertly and copied through this allowlist, so nothing else reaches
   * the page even if the server were wrong. */
  var PREVIEW_TAGS = ["P", "H1", "H2", "H3", "H4", "H5", "H6", "UL", "OL", "LI", "STRONG", "EM", "CODE",
    "PRE", "BLOCKQUOTE", "A", "HR", "BR", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD", "S", "SPAN"];
  var SAFE_HREF = /^(https?:|mailto:|tel:|[/#]|[^:]*$)/i;

  function copySafe(source, target) {
    Array.prototype.forEach.call(source.childNodes, function (node) {
      if (node.nodeType === 3) { target.appendChild(document.createTextNode(node.nodeValue)); return; }
      if (node.nodeType !== 1) { return; }
      var tag = node.tagName.toUpperCase();
      if (tag === "SCRIPT" || tag === "STYLE" || tag === "TEMPLATE") { return; }
      if (PREVIEW_TAGS.indexOf(tag) < 0) { copySafe(node, target); return; }  // its text only
      var copy = document.createElement(tag);
      if (tag === "A") {
        var href = (node.getAttribute("href") || "").replace(/[\u0000-\u0020\u007f]/g, "");
        if (SAFE_HREF.test(href) && !/^\/\//.test(href)) {
          copy.setAttribute("href", href);
          copy.setAttribute("rel", "noopener noreferrer nofollow");
        }
      } else if (tag === "OL" && /^[0-9]{1,9}$/.test(node.getAttribute("start") || "")) {
        copy.setAttribute("start", node.getAttribute("start"));
      } else if (tag === "SPAN" && node.className === "md-image") {
        copy.className = "md-image";
      }
      copySafe(node, copy);
      target.appendChild(copy);
    });
  }

  function showPreviewHtml(html, target) {
    var parsed = new DOMParser().parseFromString(html, "text/html");
    copySafe(parsed.body, C.clear(target));
  }

  function editPage(root) {
    var id = root.getAttribute("data-article");
    var canWrite = root.getAttribute("data-can-write") === "yes";
    var form = document.getElementById("article-form");
    var refusal = document.getElementById("refusal");
    refusal.setAttribute("tabindex", "-1");

    var current = null;  // the article's record as last loaded: its versions are what edits build on

    function showDetail(detail) {
      current = detail.record;
      fillForm(detail.latest);
      preview();
      var badge = document.getElementById("state-status");
      badge.textContent = detail.record.status;
      badge.className = "status status-" + detail.record.status;
      document.getElementById("state-latest").textContent = String(detail.record.latest_version);
      document.getElementById("state-live").textContent = detail.record.published_version
        ? String(detail.record.published_version) : "none";
      loadVersions();
      loadDiff();
    }

    function loadDiff() {
      C.api("GET", API + "/articles/" + encodeURIComponent(id) + "/diff").then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        showDiff(result.data);
      });
    }

    function load() {
      C.api("GET", API + "/articles/" + encodeURIComponent(id)).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        showDetail(result.data);
      });
    }

    function loadVersions() {
      C.api("GET", API + "/articles/" + encodeURIComponent(id) + "/versions").then(function (result) {
        if (!result.ok) { return; }
        var body = C.clear(document.querySelector("#versions tbody"));
        var latest = result.data.length ? result.data[result.data.length - 1].version : null;
        var live = current ? current.published_version : null;
        result.data.slice().reverse().forEach(function (v) {
          var published = v.version === live
            ? el("span", { className: "status status-published", text: "live" })
            : v.published_at ? el("span", { text: C.formatDate(v.published_at) })
              : el("span", { className: "muted", text: "never (draft)" });
          var row = el("tr", {},
            el("td", { text: v.version }),
            el("td", { text: v.author }),
            el("td", { text: v.note || "" }),
            el("td", { text: C.formatDate(v.created_at) }),
            el("td", {}, published)
          );
          if (canWrite) {
            // only a version clients were once told, and not the one already latest
            var cell = el("td", {});
            if (v.published_at && v.version !== latest) {
              cell.appendChild(el("button", {
                type: "button", className: "button-quiet", text: "Roll back to " + v.version,
                onclick: function () { act("rollback", { version: v.version, base_version: current.latest_version }); }
              }));
            }
            row.appendChild(cell);
          }
          body.appendChild(row);
        });
      });
    }

    function act(action, payload) {
      refusal.hidden = true;
      status("Checking the golden questions…");
      C.api("POST", API + "/articles/" + encodeURIComponent(id) + "/" + action, payload).then(function (result) {
        if (!result.ok) { showRefusal(result); return; }
        var record = result.data.record;
        status(action === "publish" ? "Published version " + record.published_version + "."
          : action === "unpublish" ? "Unpublished."
            : "Rolled back to version " + payload.version + ": saved as version " + record.latest_version
              + (record.published_version === record.latest_version ? ", live now." : " (not live until published)."),
          "notice");
        if (result.data.latest) { showDetail(result.data); } else { load(); }
      });
    }

    var previewTimer = null;
    var previewAsked = 0;
    function preview() {
      var content = formContent();
      document.getElementById("preview-heading").textContent = content.title || "(no title yet)";
      document.getElementById("preview-answer").textContent = content.answer || "";
      document.getElementById("preview-answer-wrap").hidden = !content.answer;
      var asked = ++previewAsked;
      C.api("POST", API + "/preview", { body: content.body }).then(function (result) {
        if (asked !== previewAsked) { return; }  // a later keystroke's preview is on its way
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        showPreviewHtml(result.data.html, document.getElementById("preview-body"));
      });
    }
    function previewSoon() {
      if (previewTimer) { window.clearTimeout(previewTimer); }
      previewTimer = window.setTimeout(preview, 300);
    }
    ["f-title", "f-answer", "f-body"].forEach(function (name) {
      field(name).addEventListener("input", previewSoon);
    });

    if (!id) { preview(); }
    if (id) {
      load();
      if (canWrite) {
        document.getElementById("publish").addEventListener("click", function () { act("publish", {}); });
        document.getElementById("unpublish").addEventListener("click", function () { act("unpublish"); });
      }
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!canWrite) { return; }
      var content = formContent();
      var request;
      if (id) {
        content.note = field("f-note").value.trim() || null;
        content.base_version = current ? current.latest_version : null;
        request = C.api("PUT", API + "/articles/" + encodeURIComponent(id), content);
      } else {
        content.id = field("f-id").value.trim();
        request = C.api("POST", API + "/articles", content);
      }
      status("Saving…");
      request.then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        if (!id) {
          window.location.assign("/console/knowledge/articles/" + encodeURIComponent(result.data.record.id));
          return;
        }
        field("f-note").value = "";
        status("Saved as version " + result.data.record.latest_version + " (not live until published).", "notice");
        showDetail(result.data);
      });
    });
  }

  /* ---- try a question ---------------------------------------------------- */
  function tryPage() {
    document.getElementById("try-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var question = document.getElementById("q").value.trim();
      if (!question) { status("Type a question first.", "error"); return; }
      var body = { question: question };
      var language = document.getElementById("q-language").value;
      var date = document.getElementById("q-date").value;
      if (language) { body.language = language; }
      if (date) { body.date = date; }
      status("Asking…");
      C.api("POST", API + "/try", body).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        var r = result.data;
        document.getElementById("answer-text").textContent = r.answer.answered
          ? r.answer.text : "No answer: the bot would say it does not know and offer a person.";
        document.getElementById("answer-meta").textContent = "mode " + r.answer.mode + ", confidence "
          + fmt(r.verdict.confidence) + ", language " + r.language + " (" + r.verdict.reason + ")";
        var rows = C.clear(document.querySelector("#passages tbody"));
        r.passages.forEach(function (p) {
          rows.appendChild(el("tr", {},
            el("td", {}, el("a", { href: "/console/knowledge/articles/" + encodeURIComponent(p.article_id), text: p.title })),
            el("td", { text: fmt(p.score) }),
            el("td", { text: fmt(p.dense) }),
            el("td", { text: fmt(p.lexical) }),
            el("td", { text: p.text })
          ));
        });
        document.getElementById("try-result").hidden = false;
        status(r.passages.length + " passages retrieved.");
      });
    });
  }

  /* ---- golden report ----------------------------------------------------- */
  function goldenPage() {
    C.api("GET", API + "/golden").then(function (result) {
      if (!result.ok) { status(C.errorText(result), "error"); return; }
      var results = result.data.results;
      var body = C.clear(document.querySelector("#golden tbody"));
      var failed = 0;
      results.forEach(function (g) {
        if (!g.passed) { failed += 1; }
        body.appendChild(el("tr", {},
          el("td", {}, el("span", { className: g.passed ? "pass" : "fail", text: g.passed ? "pass" : "FAIL" })),
          el("td", { text: g.question }),
          el("td", { text: g.language }),
          el("td", { text: g.expect.length ? g.expect.join(", ") : "no answer" }),
          el("td", { text: g.got || "no answer" }),
          el("td", { text: factSummary(g) }),
          el("td", { text: fmt(g.score) })
        ));
      });
      document.getElementById("golden").hidden = false;
      status((results.length - failed) + " of " + results.length + " pass.", failed ? "error" : "notice");
    });
  }

  /* ---- gaps -------------------------------------------------------------- */
  function gapsPage(root) {
    var canWrite = root.getAttribute("data-can-write") === "yes";
    var form = document.getElementById("golden-form");
    var chosen = null;

    function propose(g) {
      chosen = { question: g.question, language: Object.keys(g.languages)[0] || "en" };
      document.getElementById("golden-question").textContent = chosen.question;
      document.getElementById("golden-language").textContent = chosen.language;
      document.getElementById("golden-expect").value = "";
      document.getElementById("golden-facts").value = "";
      form.hidden = false;
      document.getElementById("golden-expect").focus();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!chosen) { return; }
      var expect = document.getElementById("golden-expect").value.trim();
      var facts = document.getElementById("golden-facts").value.split("\n")
        .map(function (f) { return f.trim(); }).filter(function (f) { return f; });
      var body = { question: chosen.question, language: chosen.language, expect: expect ? [expect] : [], facts: facts };
      C.api("POST", API + "/golden", body).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        form.hidden = true;
        status("Added as a golden question: " + (result.data.passed ? "it passes today." : "it fails today; fix the article, then publish."),
          result.data.passed ? "notice" : "error");
      });
    });
    document.getElementById("golden-cancel").addEventListener("click", function () { form.hidden = true; });

    function load() {
      var days = document.getElementById("gaps-days").value;
      status("Loading…");
      C.api("GET", API + "/gaps?days=" + encodeURIComponent(days)).then(function (result) {
        if (!result.ok) { status(C.errorText(result), "error"); return; }
        var body = C.clear(document.querySelector("#gaps tbody"));
        result.data.forEach(function (g) {
          body.appendChild(el("tr", {},
            el("td", { text: g.question }),
            el("td", { text: g.count }),
            el("td", { text: Object.keys(g.reasons).map(function (k) { return k + " " + g.reasons[k]; }).join(", ") }),
            el("td", { text: Object.keys(g.languages).join(", ") }),
            el("td", { text: g.examples.filter(function (e) { return e !== g.question; }).slice(0, 3).join(" · ") }),
            el("td", { text: (g.tried || []).join(" | ") }),
            el("td", { text: C.formatDate(g.last_asked) }),
            el("td", {}, canWrite ? el("button", { type: "button", className: "button-quiet", text: "Add as golden question",
              onclick: function () { propose(g); } }) : el("span", { className: "muted", text: "editors only" }))
          ));
        });
        document.getElementById("gaps").hidden = result.data.length === 0;
        status(result.data.length ? result.data.length + " groups" : "No gaps in this period.");
      });
    }
    document.getElementById("gaps-form").addEventListener("submit", function (event) { event.preventDefault(); load(); });
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("knowledge");
    if (!root) { return; }
    var page = root.getAttribute("data-page");
    if (page === "list") { listPage(); }
    else if (page === "edit") { editPage(root); }
    else if (page === "try") { tryPage(); }
    else if (page === "golden") { goldenPage(); }
    else if (page === "gaps") { gapsPage(root); }
  });
})();
