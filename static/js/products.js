// Price and sales-rank history of the product card (Chart.js from npm, see package.json).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("history-chart-data");
  const canvas = document.getElementById("history-chart");
  if (!source || !canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const series = (points) => points.filter((p) => p[1] !== null).map((p) => ({ x: Date.parse(p[0]), y: Number(p[1]) }));
  new Chart(canvas, {
    type: "line",
    data: {
      datasets: [
        { label: `Price (${data.currency || ""})`, data: series(data.price), yAxisID: "price", stepped: true, borderColor: "#ff9900", pointRadius: 0 },
        { label: "Sales rank", data: series(data.rank), yAxisID: "rank", borderColor: "#175cd3", pointRadius: 0 },
      ],
    },
    options: {
      parsing: false,
      animation: false,
      scales: {
        x: { type: "linear", ticks: { callback: (v) => new Date(v).toISOString().slice(0, 10) } },
        price: { position: "left", title: { display: true, text: "price" } },
        rank: { position: "right", reverse: true, grid: { drawOnChartArea: false }, title: { display: true, text: "rank (lower is better)" } },
      },
    },
  });
});
