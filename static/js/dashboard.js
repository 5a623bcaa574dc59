// Draws the learning curve from the JSON the dashboard fragment embeds; redrawn after every
// htmx refresh of the fragment.
(function () {
  "use strict";

  let chart = null;
  // Django's JavaScript catalog (jsi18n) defines gettext; without it the English text stands.
  const gettext = window.gettext || function (text) { return text; };

  // The lower edges of the bands: drawn, never named.
  const hidden = new Set(["low", "random low"]);

  function percent(value) {
    return value === null || value === undefined ? null : Math.round(value * 1000) / 10;
  }

  function draw() {
    const canvas = document.getElementById("learning-curve");
    const data = document.getElementById("curve-data");
    if (chart) {
      chart.destroy();
      chart = window.tweezersChart = null;
    }
    if (!canvas || !data || typeof Chart === "undefined") return;
    const points = JSON.parse(data.textContent).filter((p) => p.n_labels !== null);
    const at = (key) => points.map((p) => ({ x: p.n_labels, y: percent(p[key]) }));
    // A findings project's curve is its macro AUC (with its bootstrap band) and micro-F1.
    const key = canvas.dataset.metricKey || "accuracy";
    const second = canvas.dataset.secondKey || "macro_f1";
    const names = { accuracy: gettext("Accuracy"), macro_f1: gettext("Macro-F1"),
      macro_auc: gettext("Macro AUC"), micro_f1: gettext("Micro-F1") };
    const accent = "#2457c5";
    const datasets = [
      { label: "low", data: at(key + "_low"), borderWidth: 0, pointRadius: 0, fill: false },
      {
        label: gettext("95% interval"), data: at(key + "_high"), borderWidth: 0, pointRadius: 0,
        fill: "-1", backgroundColor: "rgba(36, 87, 197, 0.14)",
      },
      {
        label: names[key], data: at(key), borderColor: accent, backgroundColor: accent,
        borderWidth: 2, pointRadius: 4, tension: 0.15,
      },
      {
        label: names[second], data: at(second), borderColor: "#8a94a6", backgroundColor: "#8a94a6",
        borderWidth: 1.5, borderDash: [5, 4], pointRadius: 2, tension: 0.15,
      },
    ];
    // What as many random labels would reach (estimated on the evaluation set), with its band.
    const random = points.filter((p) => p.random_accuracy !== null && p.random_accuracy !== undefined);
    if (random.length) {
      const randomAt = (key) => random.map((p) => ({ x: p.n_labels, y: percent(p[key]) }));
      datasets.push(
        { label: "random low", data: randomAt("random_low"), borderWidth: 0, pointRadius: 0, fill: false },
        {
          label: gettext("Random labels: 95% interval"), data: randomAt("random_high"), borderWidth: 0,
          pointRadius: 0, fill: "-1", backgroundColor: "rgba(196, 110, 30, 0.12)",
        },
        {
          label: gettext("Random labels (estimate)"), data: randomAt("random_accuracy"),
          borderColor: "#c46e1e", backgroundColor: "#c46e1e", borderWidth: 1.5, borderDash: [6, 3],
          pointRadius: 2, tension: 0.15,
        },
      );
    }
    const target = document.getElementById("curve-target");
    if (target && points.length) {
      const xs = points.map((p) => p.n_labels);
      const y = percent(parseFloat(target.dataset.value));
      datasets.push({
        label: gettext("Target"), data: [{ x: Math.min(...xs), y: y }, { x: Math.max(...xs), y: y }],
        borderColor: "#157347", borderWidth: 1, borderDash: [2, 3], pointRadius: 0,
      });
    }
    chart = window.tweezersChart = new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        layout: { padding: { top: 6, right: 8 } },
        datasets: { line: { clip: false } },
        parsing: true,
        interaction: { mode: "nearest", intersect: false },
        scales: {
          x: { type: "linear", title: { display: true, text: gettext("labels") }, ticks: { precision: 0 } },
          y: { min: 0, max: 100, title: { display: true, text: "%" } },
        },
        plugins: {
          legend: { labels: { filter: (item) => !hidden.has(item.text), boxWidth: 14 } },
          tooltip: { filter: (item) => !hidden.has(item.dataset.label) },
        },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSwap", function (event) {
    if (document.getElementById("dashboard")) draw();
  });
})();
