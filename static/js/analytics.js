// The charts of the analytics pages. Each <canvas data-chart="ID"> draws the
// json_script element ID ({labels, datasets: [{label, data}]}); data-chart-type
// is bar or doughnut, data-stacked stacks the bars. Chart.js is vendor/chartjs/chart.umd.js from npm.
(() => {
  if (typeof window.Chart === "undefined") return;
  const palette = ["#ff9900", "#175cd3", "#067647", "#b42318", "#6941c6", "#667085"];

  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    const data = JSON.parse(source.textContent);
    const type = canvas.dataset.chartType || "bar";
    const stacked = canvas.dataset.stacked === "true";
    const datasets = data.datasets.map((dataset, index) => ({
      label: dataset.label,
      data: dataset.data,
      backgroundColor: type === "doughnut" ? data.labels.map((_, i) => palette[i % palette.length]) : palette[index % palette.length],
      borderWidth: 0,
    }));
    const options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { position: "bottom" } },
    };
    if (type !== "doughnut") {
      options.scales = {
        x: { stacked, ticks: { maxRotation: 0, autoSkip: true } },
        y: { stacked, beginAtZero: true },
      };
    }
    new window.Chart(canvas, { type, data: { labels: data.labels, datasets }, options });
  });
})();
