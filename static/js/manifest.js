// Profit by line on the manifest page (Chart.js from npm, loaded as on the lookup page).
function drawManifestChart() {
  const source = document.getElementById("manifest-chart-data");
  const canvas = document.getElementById("manifest-chart");
  if (!source || !canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const existing = Chart.getChart(canvas);
  if (existing) existing.destroy();
  const values = data.profit.map(Number);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [{
        label: `Profit (${data.currency})`,
        data: values,
        backgroundColor: values.map((v) => (v >= 0 ? "#12805c" : "#b42318")),
      }],
    },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } },
  });
}
document.addEventListener("DOMContentLoaded", drawManifestChart);
