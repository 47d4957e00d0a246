// The revenue chart of the admin's revenue report. Its data comes from the page
// (json_script "revenue-chart-data"); Chart.js is vendor/chartjs/chart.umd.js from npm.
(() => {
  const canvas = document.getElementById("revenue-chart");
  const source = document.getElementById("revenue-chart-data");
  if (!canvas || !source || typeof window.Chart === "undefined") return;

  const data = JSON.parse(source.textContent);
  const netColours = ["#067647", "#175cd3", "#6941c6", "#ff9900"];
  const refundColours = ["#b42318", "#c4320a", "#93370d", "#667085"];
  const currencies = [...new Set(data.datasets.map((dataset) => dataset.currency))];
  const datasets = data.datasets.map((dataset) => {
    const index = currencies.indexOf(dataset.currency);
    const net = dataset.kind === "net";
    return {
      label: dataset.label,
      data: dataset.data,
      stack: dataset.currency,
      backgroundColor: (net ? netColours : refundColours)[index % 4],
      borderWidth: 0,
    };
  });

  new window.Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } },
        y: { stacked: true, title: { display: true, text: "amount (major currency unit)" } },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });
})();
