// Price and sales-rank history of a watched product, from its stored refreshes
// (json_script "watch-history-data"); Chart.js is vendor/chartjs/chart.umd.js from npm.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("watch-history-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const series = (points) => points.filter((p) => p[1] !== null).map((p) => ({ x: Date.parse(p[0]), y: Number(p[1]) }));
  const time = { type: "linear", ticks: { callback: (v) => new Date(v).toISOString().slice(0, 16).replace("T", " ") } };
  const draw = (id, label, points, color, reverse) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    new window.Chart(canvas, {
      type: "line",
      data: { datasets: [{ label, data: series(points), borderColor: color, stepped: !reverse, pointRadius: 2 }] },
      options: { parsing: false, animation: false, maintainAspectRatio: false, scales: { x: time, y: { reverse } } },
    });
  };
  draw("price-chart", `Price (${data.currency || ""})`, data.price, "#ff9900", false);
  draw("rank-chart", "Sales rank (lower is better)", data.rank, "#175cd3", true);
});
