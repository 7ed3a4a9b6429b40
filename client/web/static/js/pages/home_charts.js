// 首页: the last 12 fee periods (GET /api/home/charts, this PC's data), drawn with the vendored
// Chart.js (static/vendor/chartjs, a classic script that sets window.Chart before modules run).
// Amounts come as decimal text: numbers only for the bars' lengths, tooltips show the text.

import { endpoints, request } from "../api.js";
import { money } from "../format.js";

const ITEM_COLORS = ["#1f5fae", "#2e9d6a", "#e0a100", "#d9643a", "#7b57c2", "#16a2b8", "#8a8f98"];
const GRID = "#eef1f5";

function axisMoney(value) {
  const n = Number(value);
  if (Math.abs(n) >= 10000) return `${(n / 10000).toLocaleString("zh-CN", { maximumFractionDigits: 1 })}万`;
  return n.toLocaleString("zh-CN");
}

function baseOptions(extra = {}) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false, // a status page: draw once, at once
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 10, font: { size: 11 } } },
      tooltip: { callbacks: {} },
    },
    scales: {
      x: { grid: { display: false }, ticks: { font: { size: 11 }, maxRotation: 0, autoSkip: false } },
      y: { beginAtZero: true, grace: "8%", grid: { color: GRID }, ticks: { font: { size: 11 }, callback: axisMoney } },
    },
    ...extra,
  };
}

// Tooltip lines read the exact decimal text of the series, never the float.
function moneyTooltip(texts) {
  return (ctx) => `${ctx.dataset.label}：${money(texts[ctx.datasetIndex][ctx.dataIndex])} 元`;
}

// Every other month is labelled, the current one always ("4月"), the year where it changes
// ("25年2月"): twelve full labels do not fit beside the status list.
function shortLabels(data) {
  const last = data.periods.length - 1;
  let year = "";
  return data.periods.map((p, i) => {
    if ((last - i) % 2) return "";
    const label = p.slice(0, 4) === year ? `${Number(p.slice(4))}月` : `${p.slice(2, 4)}年${Number(p.slice(4))}月`;
    year = p.slice(0, 4);
    return label;
  });
}

function draw(Chart, data) {
  const labels = shortLabels(data);
  const titles = (items) => data.labels[items[0].dataIndex];

  const itemTexts = data.items.map((s) => s.amounts);
  const items = baseOptions();
  items.scales.x.stacked = true;
  items.scales.y.stacked = true;
  items.plugins.tooltip.callbacks = { title: titles, label: moneyTooltip(itemTexts) };
  new Chart(document.getElementById("chart-items"), {
    type: "bar",
    data: {
      labels,
      datasets: data.items.map((s, i) => ({
        label: s.name, data: s.amounts.map(Number), backgroundColor: ITEM_COLORS[i % ITEM_COLORS.length],
        borderWidth: 0, maxBarThickness: 28,
      })),
    },
    options: items,
  });

  const heads = baseOptions();
  heads.plugins.legend.display = false;
  heads.scales.y.ticks.callback = (v) => Number(v).toLocaleString("zh-CN");
  heads.scales.y.ticks.precision = 0;
  heads.plugins.tooltip.callbacks = { title: titles, label: (ctx) => `缴费人数：${ctx.parsed.y.toLocaleString("zh-CN")} 人` };
  new Chart(document.getElementById("chart-headcount"), {
    type: "line",
    data: {
      labels,
      datasets: [{
        label: "缴费人数", data: data.headcount, borderColor: "#1f5fae", backgroundColor: "#1f5fae",
        pointRadius: 3, tension: 0.2, spanGaps: false,
      }],
    },
    options: heads,
  });

  const paid = baseOptions();
  paid.plugins.tooltip.callbacks = { title: titles, label: moneyTooltip([data.payable, data.paid]) };
  new Chart(document.getElementById("chart-paid"), {
    type: "bar",
    data: {
      labels,
      datasets: [
        { label: "应缴", data: data.payable.map(Number), backgroundColor: "#b8cbe6", borderWidth: 0, maxBarThickness: 16 },
        { label: "已缴", data: data.paid.map(Number), backgroundColor: "#2e9d6a", borderWidth: 0, maxBarThickness: 16 },
      ],
    },
    options: paid,
  });
}

async function main() {
  const panel = document.getElementById("home-charts");
  if (!panel) return;
  const Chart = window.Chart;
  if (!Chart) {
    panel.dataset.state = "unavailable";
    return;
  }
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#667085";
  const data = await request("GET", endpoints.homeCharts);
  document.getElementById("charts-empty").hidden = !data.empty;
  panel.dataset.empty = data.empty ? "1" : ""; // nothing to draw: the sentence, not empty axes
  draw(Chart, data);
  panel.dataset.state = "drawn"; // tests wait for this
}

main().catch(() => {
  const panel = document.getElementById("home-charts");
  if (panel) panel.dataset.state = "failed";
});
