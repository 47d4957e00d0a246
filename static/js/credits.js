// The usage chart of the credits page. Its data comes from the page
// (json_script "usage-chart-data"); Chart.js is vendor/chartjs/chart.umd.js from npm.
(() => {
  const canvas = document.getElementById("usage-chart");
  const source = document.getElementById("usage-chart-data");
  if (!canvas || !source || typeof window.Chart === "undefined") return;

  const data = JSON.parse(source.textContent);
  const palette = ["#ff9900", "#175cd3", "#067647", "#b42318", "#6941c6", "#667085"];
  const datasets = data.datasets.map((dataset, index) => ({
    label: dataset.label,
    data: dataset.data,
    backgroundColor: palette[index % palette.length],
    borderWidth: 0,
  }));
  if (datasets.length === 0) {
    datasets.push({ label: "credits", data: data.labels.map(() => 0), backgroundColor: palette[0] });
  }

  new window.Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "credits" } },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });
})();
