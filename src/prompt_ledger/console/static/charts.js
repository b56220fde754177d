// PromptLedger console: the analytics charts, drawn with the vendored uPlot.
// Each <figure data-chart="ID"> names a <script type="application/json" id="ID"> holding
// {title, unit, x: [unix seconds], series: [{label, values}]} (console/charts.py). The same
// numbers are in the table under each chart, so the page reads fine without this script.
"use strict";

(function () {
  var PALETTE = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5", "--chart-6"];
  var HEIGHT = 220;

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function format(unit, value) {
    if (value == null) return "—";
    if (unit === "percent") return value.toFixed(1) + " %";
    if (unit === "ms") return Math.round(value).toLocaleString() + " ms";
    if (unit === "usd") return "$" + (value >= 1 ? value.toFixed(2) : value.toPrecision(2));
    return Math.round(value).toLocaleString();
  }

  function options(spec, width) {
    var text = css("--muted"), grid = css("--line");
    var axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var series = [{}];
    spec.series.forEach(function (s, i) {
      var colour = css(PALETTE[i % PALETTE.length]);
      series.push({
        label: s.label,
        stroke: colour,
        width: 2,
        points: { show: spec.x.length < 40, size: 5, fill: colour },
        value: function (u, v) { return format(spec.unit, v); }
      });
    });
    return {
      width: width,
      height: HEIGHT,
      series: series,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [
        Object.assign({}, axis),
        Object.assign({}, axis, {
          size: 64,
          // whole numbers of executions and tokens: no 2.5 on the axis
          incrs: spec.unit === "count" || spec.unit === "tokens" ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7] : undefined,
          values: function (u, ticks) { return ticks.map(function (t) { return format(spec.unit, t); }); }
        })
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } }
    };
  }

  var drawn = [];

  function draw() {
    drawn.forEach(function (d) { d.plot.destroy(); });
    drawn = [];
    document.querySelectorAll("figure[data-chart]").forEach(function (figure) {
      var source = document.getElementById(figure.getAttribute("data-chart"));
      var target = figure.querySelector(".plot");
      if (!source || !target || typeof uPlot === "undefined") return;
      var spec = JSON.parse(source.textContent);
      var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
      var plot = new uPlot(options(spec, target.clientWidth || 600), data, target);
      drawn.push({ plot: plot, target: target });
    });
  }

  function resize() {
    drawn.forEach(function (d) { d.plot.setSize({ width: d.target.clientWidth, height: HEIGHT }); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw();
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(resize, 100);
    });
    // Colours come from the stylesheet: redraw when the visitor switches light/dark.
    if (window.matchMedia) {
      var scheme = window.matchMedia("(prefers-color-scheme: dark)");
      if (scheme.addEventListener) scheme.addEventListener("change", draw);
    }
  });
})();
