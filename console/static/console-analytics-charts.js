/* Analytics charts as inline SVG, drawn here (no third-party code, no CDN: the console runs
 * offline under a strict CSP). Every text goes in with textContent; colours come from classes
 * in console-analytics.css. Each mark carries data-key / data-value (what it shows) and is a
 * keyboard-reachable button when the caller gives an onSelect (the drill-down).
 *
 * ConciergeCharts.stacked(container, {bars: [{key, label, total, segments: [{name, label, value}]}],
 *   onSelect(bar, segment)})  -- stacked vertical bars (a trend by period)
 * ConciergeCharts.hbars(container, {rows: [{key, label, value, max, text}], onSelect(row)})
 *   -- horizontal bars (a share or a count per row)
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (attrs[key] !== null && attrs[key] !== undefined) { node.setAttribute(key, String(attrs[key])); }
    });
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
    return node;
  }

  /* a mark that opens the conversations behind it: click, Enter or Space */
  function selectable(node, label, onSelect) {
    node.appendChild(svg("title", {}, label));
    if (!onSelect) { return node; }
    node.setAttribute("tabindex", "0");
    node.setAttribute("role", "button");
    node.setAttribute("aria-label", label);
    node.classList.add("selectable");
    node.addEventListener("click", onSelect);
    node.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); onSelect(); }
    });
    return node;
  }

  /* a round upper bound for the axis: 1, 2, 5 x 10^n */
  function niceMax(value) {
    if (value <= 0) { return 1; }
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power >= value) { return steps[i] * power; }
    }
    return 10 * power;
  }

  function stacked(container, options) {
    var bars = options.bars;
    var height = 240, top = 22, bottom = 44, left = 44, right = 12;
    var slot = Math.max(28, Math.min(72, 720 / Math.max(bars.length, 1)));
    var width = left + right + slot * bars.length;
    var plot = height - top - bottom;
    var max = niceMax(Math.max.apply(null, [0].concat(bars.map(function (b) { return b.total; }))));
    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height,
      role: "group", "aria-label": options.label || "chart", "class": "chart-svg" });
    [0, max / 2, max].forEach(function (tick) {
      var y = top + plot - (tick / max) * plot;
      root.appendChild(svg("line", { x1: left, x2: width - right, y1: y, y2: y, "class": "grid" }));
      root.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "class": "axis" },
        Number.isInteger(tick) ? tick : tick.toFixed(1)));
    });
    var labelEvery = Math.ceil(bars.length / 14);
    bars.forEach(function (bar, index) {
      var x = left + index * slot + slot * 0.15;
      var w = slot * 0.7;
      var group = svg("g", { "class": "bar", "data-key": bar.key, "data-total": bar.total });
      var y = top + plot;
      bar.segments.forEach(function (segment) {
        if (!segment.value) { return; }
        var h = (segment.value / max) * plot;
        y -= h;
        var rect = svg("rect", { x: x, y: y, width: w, height: Math.max(h, 1),
          "class": "segment seg-" + segment.name, "data-segment": segment.name, "data-value": segment.value });
        selectable(rect, bar.label + ": " + segment.value + " " + segment.label,
          options.onSelect ? function () { options.onSelect(bar, segment); } : null);
        group.appendChild(rect);
      });
      group.appendChild(svg("text", { x: x + w / 2, y: y - 5, "text-anchor": "middle", "class": "bar-total" },
        bar.total));
      if (index % labelEvery === 0) {
        group.appendChild(svg("text", { x: x + w / 2, y: height - bottom + 16, "text-anchor": "middle",
          "class": "axis bar-label" }, bar.label));
      }
      root.appendChild(group);
    });
    clear(container).appendChild(root);
    return root;
  }

  function hbars(container, options) {
    var rows = options.rows;
    var rowHeight = 34, left = 150, right = 120, width = 520;
    var height = rowHeight * Math.max(rows.length, 1) + 8;
    var plot = width - left - right;
    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height,
      role: "group", "aria-label": options.label || "chart", "class": "chart-svg" });
    rows.forEach(function (row, index) {
      var y = 4 + index * rowHeight;
      var group = svg("g", { "class": "hbar", "data-key": row.key,
        "data-value": row.value === null || row.value === undefined ? "" : row.value });
      group.appendChild(svg("text", { x: left - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end", "class": "axis" },
        row.label));
      group.appendChild(svg("rect", { x: left, y: y + 6, width: plot, height: rowHeight - 12, "class": "track" }));
      var share = row.max ? Math.max(0, Math.min(1, (row.value || 0) / row.max)) : 0;
      var bar = svg("rect", { x: left, y: y + 6, width: Math.max(share * plot, row.value ? 2 : 0),
        height: rowHeight - 12, "class": "fill " + (row.className || "") });
      group.appendChild(bar);
      selectable(group, row.label + ": " + row.text, options.onSelect ? function () { options.onSelect(row); } : null);
      group.appendChild(svg("text", { x: left + plot + 8, y: y + rowHeight / 2 + 4, "class": "value-label" },
        row.text));
      root.appendChild(group);
    });
    clear(container).appendChild(root);
    return root;
  }

  window.ConciergeCharts = { stacked: stacked, hbars: hbars, niceMax: niceMax };
})();
