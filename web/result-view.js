// One query result (the SQL console's and a saved metric's, R-AN-3/R-AN-6): {columns, rows, truncated,
// elapsed_ms} as a chart of any columns (line, bar or table; x and y picked from the columns), a table with
// a sticky header that scrolls inside its own box, a line with the row count and the time it took, and a
// "Download CSV" button that asks the API for the same rows as CSV (RFC 4180, formula-like text guarded).

import { barChart } from "./charts.js";
import { svg } from "./money.js";
import { h } from "./ui.js";

export const CHART_TYPES = [
  { id: "table", label: "Table only" },
  { id: "bar", label: "Bar chart" },
  { id: "line", label: "Line chart" },
];

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function elapsed(ms) {
  const value = Number(ms);
  if (!Number.isFinite(value)) return "";
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

/** "12 rows in 80 ms." */
export function summary(answer) {
  const rows = Array.isArray(answer?.rows) ? answer.rows.length : 0;
  const took = elapsed(answer?.elapsed_ms);
  return `${rows ? plural(rows, "row") : "No rows"}${took ? ` in ${took}` : ""}.`;
}

/** A cell's text: NULL (muted) for null, JSON for objects and lists, the value as text otherwise. */
function cell(value) {
  if (value === null || value === undefined) return h("td", { class: "muted", "data-testid": "sql-cell", "data-null": "" }, "NULL");
  const numeric = typeof value === "number" || typeof value === "bigint";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return h("td", { class: numeric ? "num" : "sql-text", "data-testid": "sql-cell" }, text);
}

let captions = 0;

export function resultTable(answer, label = "Query results") {
  const columns = Array.isArray(answer?.columns) ? answer.columns : [];
  const rows = Array.isArray(answer?.rows) ? answer.rows : [];
  if (!columns.length) return h("p", { class: "muted" }, "The query returned no columns.");
  const id = `result-caption-${++captions}`;
  return h(
    "div",
    { class: "table-wrap sql-table-wrap", role: "region", tabindex: "0", "aria-labelledby": id },
    h(
      "table",
      { class: "table sql-table", "data-testid": "sql-table" },
      h("caption", { id, class: "visually-hidden" }, label),
      h("thead", {}, h("tr", {}, columns.map((name) => h("th", { scope: "col", "data-testid": "sql-column" }, String(name))))),
      h("tbody", {}, rows.map((row) => h("tr", { "data-testid": "sql-row" }, (Array.isArray(row) ? row : [row]).map(cell)))),
    ),
  );
}

/** The columns a chart can use as y: those with a number in some row. */
export function numericColumns(answer) {
  const columns = answer?.columns ?? [];
  return columns.filter((_, index) => (answer?.rows ?? []).some((row) => typeof row[index] === "number"));
}

/**
 * A chart of `answer` as `chart` says ({type, x, y: [columns]}); null for a table, or a sentence saying what
 * is missing when the columns are not in the result.
 */
export function resultChart(answer, chart, { testid = "result-chart" } = {}) {
  if (!chart || chart.type === "table") return null;
  const columns = answer?.columns ?? [];
  const x = columns.indexOf(chart.x);
  const ys = (chart.y ?? []).map((name) => ({ name, index: columns.indexOf(name) }));
  const missing = [chart.x, ...ys.filter((y) => y.index < 0).map((y) => y.name)].filter((name, i) => (i === 0 ? x < 0 : true));
  if (x < 0 || !ys.length || ys.some((y) => y.index < 0)) {
    return h(
      "p",
      { class: "notice", "data-testid": `${testid}-missing` },
      `The chart needs the column${missing.length === 1 ? "" : "s"} ${missing.filter(Boolean).join(", ") || "for y"}, which the result does not have.`,
    );
  }
  const rows = answer.rows ?? [];
  const series = ys.map((y) => ({ id: y.name, label: y.name, value: (row) => row[y.index] }));
  const key = (row) => String(row[x] ?? "");
  const described = `${chart.type === "line" ? "Line" : "Bar"} chart of ${ys.map((y) => y.name).join(", ")} by ${chart.x}, ${plural(rows.length, "point")}`;
  const axis = rows.length ? [key(rows[0]), key(rows[rows.length - 1])] : null;
  if (chart.type === "bar") {
    return barChart({ items: rows, series, key, summary: described, axis, testid, barTestid: `${testid}-bar`,
      describe: (row, one, value) => `${key(row)}, ${one.label}: ${value ?? "none"}` });
  }
  return lineChart({ rows, series, key, summary: described, axis, testid });
}

const WIDTH = 600;
const HEIGHT = 120;
const TONES = ["accent", "info", "warm", "danger"];

function lineChart({ rows, series, key, summary: described, axis, testid }) {
  const values = rows.flatMap((row) => series.map((one) => Number(one.value(row)))).filter(Number.isFinite);
  const top = Math.max(0, ...values);
  const bottom = Math.min(0, ...values);
  const span = top - bottom || 1;
  const step = rows.length > 1 ? WIDTH / (rows.length - 1) : 0;
  const y = (value) => ((top - value) / span) * HEIGHT;
  const lines = series.map((one, which) => {
    const points = rows
      .map((row, index) => [index, Number(one.value(row))])
      .filter(([, value]) => Number.isFinite(value))
      .map(([index, value]) => `${(index * step).toFixed(1)},${y(value).toFixed(1)}`);
    return svg("polyline", {
      points: points.join(" "),
      class: `line tone-${TONES[which % TONES.length]}`,
      fill: "none",
      "vector-effect": "non-scaling-stroke",
      "data-series": one.id,
      "data-points": String(points.length),
    });
  });
  return h(
    "figure",
    { class: "chart", "data-testid": testid },
    h("div", { class: "chart-scale", "aria-hidden": "true" }, h("span", {}, String(top)), h("span", {}, String(bottom))),
    h(
      "div",
      { class: "chart-plot" },
      svg(
        "svg",
        { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img", "aria-label": described, focusable: "false" },
        svg("title", {}, described),
        svg("line", { x1: 0, x2: WIDTH, y1: y(0), y2: y(0), class: "chart-zero", "vector-effect": "non-scaling-stroke" }),
        lines,
      ),
      axis ? h("div", { class: "chart-axis", "aria-hidden": "true" }, h("span", {}, axis[0]), h("span", {}, axis[1])) : null,
    ),
    series.length > 1
      ? h("ul", { class: "chart-legend", "aria-hidden": "true" },
          series.map((one, which) => h("li", {}, h("span", { class: `swatch tone-${TONES[which % TONES.length]}` }), one.label)))
      : null,
  );
}

/** Save text as a file the browser downloads. */
export function saveFile(text, filename, type = "text/csv;charset=utf-8") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function csvName(stem) {
  const safe = String(stem || "result").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return `${safe.slice(0, 60) || "result"}.csv`;
}
