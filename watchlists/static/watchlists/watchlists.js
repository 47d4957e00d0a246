// Price and sales-rank history of a watched product, from its stored refreshes
// (json_script "watch-history-data"); Chart.js is vendor/chartjs/chart.umd.js from npm.
//
// The x axis is a linear scale of epoch milliseconds (no date adapter is bundled), so its bounds
// are set here: left to itself Chart.js pads a single value by 5% of it, which for a timestamp is
// years (a one-point history drew 2023 to 2030).
(() => {
  const HOUR = 3600 * 1000;
  const DAY = 24 * HOUR;
  const FEW_POINTS = 3;

  // The x range: the data's, padded by a twentieth of its span (at least five minutes); a lone
  // point sits in the middle of a day.
  const timeBounds = (xs) => {
    if (!xs.length) return {};
    const min = Math.min(...xs);
    const max = Math.max(...xs);
    const span = max - min;
    const pad = span > 0 ? Math.max(span / 20, 5 * 60 * 1000) : DAY / 2;
    return { min: min - pad, max: max + pad };
  };

  // Days alone over a span of more than three days, else the time too.
  const dateFormat = (span) =>
    new Intl.DateTimeFormat(
      undefined,
      span > 3 * DAY ? { day: "numeric", month: "short" } : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" },
    );
  const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  const priceFormat = (currency) => {
    if (!currency) return new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency });
    } catch (error) {
      return new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
    }
  };
  const rankFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

  const series = (points) => points.filter((p) => p[1] !== null).map((p) => ({ x: Date.parse(p[0]), y: Number(p[1]) }));

  const draw = (id, label, points, options) => {
    const canvas = document.getElementById(id);
    if (!canvas) return null;
    const data = series(points);
    const bounds = timeBounds(data.map((p) => p.x));
    const dates = dateFormat((bounds.max || 0) - (bounds.min || 0));
    return new window.Chart(canvas, {
      type: "line",
      data: {
        datasets: [{ label, data, borderColor: options.color, backgroundColor: options.color, stepped: options.stepped, pointRadius: data.length <= FEW_POINTS ? 4 : 2 }],
      },
      options: {
        parsing: false,
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: {
            type: "linear",
            ...bounds,
            // A short history is labelled at its own points (a lone point with its date).
            afterBuildTicks: (scale) => {
              if (data.length && data.length <= FEW_POINTS) scale.ticks = data.map((p) => ({ value: p.x }));
            },
            ticks: { maxTicksLimit: 6, callback: (value) => dates.format(new Date(value)) },
          },
          y: { reverse: options.reverse, ticks: { callback: (value) => options.format(value) } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? fullDate.format(new Date(items[0].parsed.x)) : ""),
              label: (item) => `${label}: ${options.format(item.parsed.y)}`,
            },
          },
        },
      },
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    const source = document.getElementById("watch-history-data");
    if (!source || typeof window.Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    const money = priceFormat(data.currency);
    draw("price-chart", data.currency ? `Price (${data.currency})` : "Price", data.price, {
      color: "#ff9900",
      stepped: true,
      reverse: false,
      format: (value) => money.format(value),
    });
    draw("rank-chart", "Sales rank (lower is better)", data.rank, {
      color: "#175cd3",
      stepped: false,
      reverse: true,
      format: (value) => `#${rankFormat.format(value)}`,
    });
  });
})();
