// Bar charts as inline SVG, the one chart the front has (Accounting stats, the analytics dashboard). No
// library: a <figure> with the scale (top and bottom values) on the left, the plot, the first and last
// labels under it, an optional legend and a caption. The <svg> is role="img" with a summary as its
// accessible name (aria-label and <title>); every bar has a <title> (a tooltip) with its day and value, and
// data attributes (data-date, data-series, the exact value) so tests and tools can read it. Pages keep the
// same numbers in a table: the chart is the picture, not the only place the data is.
//
// barChart({
//   items,        one slot per item, left to right
//   series,       [{id, label, value: (item) => number | null, tone}]: one bar per series in each slot
//                 (null: no bar, e.g. a figure known only once the day is closed); `tone` colours it
//                 ("accent", "info", "warm", "danger"); more than one series gets a legend
//   signed,       colour by sign instead (bar-gain above the zero line, bar-loss below it)
//   format,       value -> text, for the scale (default String)
//   describe,     (item, series, value) -> the bar's tooltip
//   key,          item -> data-date (default item.date)
//   valueAttr,    the attribute holding a bar's exact value ("data-value"; "data-cents" for money)
//   barAttrs,     (item, series, value) -> more attributes for a bar (data-task-id…)
//   summary,      the chart in one sentence, for screen readers
//   caption,      the figcaption (what the bars mean)
//   axis,         [first label, last label] under the plot
//   testid, barTestid
// })

import { svg } from "./money.js";
import { h } from "./ui.js";

const BAR = 10;
const GAP = 4;
const INNER_GAP = 1;
const HEIGHT = 120;
const MIN_SLOTS = 7; // a short range keeps slim bars, centred, instead of a few stretched blocks

export const TONES = ["accent", "info", "warm", "danger"];

function known(value) {
  return value !== null && value !== undefined && Number.isFinite(Number(value));
}

export function barChart({
  items = [],
  series,
  signed = false,
  format = (value) => String(value),
  describe = (item, one, value) => `${item?.date ?? ""}: ${known(value) ? format(value) : "not known"}`,
  key = (item) => item?.date,
  valueAttr = "data-value",
  barAttrs = null,
  summary,
  caption = null,
  axis = null,
  testid = null,
  barTestid = null,
}) {
  const lines = series.map((one, index) => ({ tone: TONES[index % TONES.length], ...one }));
  const values = items.map((item) => lines.map((one) => (known(one.value(item)) ? Number(one.value(item)) : null)));
  const flat = values.flat().filter((value) => value !== null);
  const top = Math.max(0, ...flat);
  const bottom = Math.min(0, ...flat);
  const span = top - bottom || 1;
  const group = lines.length * BAR + (lines.length - 1) * INNER_GAP;
  const slots = Math.max(items.length, MIN_SLOTS);
  const width = slots * (group + GAP) + GAP;
  const offset = ((slots - items.length) / 2) * (group + GAP);
  const zero = (top / span) * HEIGHT;

  const bars = items.flatMap((item, index) =>
    lines.map((one, which) => {
      const value = values[index][which];
      if (value === null) return null;
      const size = Math.max((Math.abs(value) / span) * HEIGHT, value ? 1 : 0);
      const look = signed ? (value < 0 ? "bar-loss" : "bar-gain") : `tone-${one.tone}`;
      return svg(
        "rect",
        {
          x: offset + GAP + index * (group + GAP) + which * (BAR + INNER_GAP),
          y: value >= 0 ? zero - size : zero,
          width: BAR,
          height: size,
          class: `bar ${look}`,
          "data-testid": barTestid,
          "data-date": key(item),
          "data-series": lines.length > 1 ? one.id : null,
          [valueAttr]: String(value),
          ...(barAttrs ? barAttrs(item, one, value) : {}),
        },
        svg("title", {}, describe(item, one, value)),
      );
    }),
  );

  const legend =
    lines.length > 1
      ? h(
          "ul",
          { class: "chart-legend", "aria-hidden": "true" },
          lines.map((one) => h("li", {}, h("span", { class: `swatch tone-${one.tone}` }), one.label)),
        )
      : null;

  return h(
    "figure",
    { class: "chart", "data-testid": testid },
    h("div", { class: "chart-scale", "aria-hidden": "true" }, h("span", {}, format(top)), h("span", {}, format(bottom))),
    h(
      "div",
      { class: "chart-plot" },
      svg(
        "svg",
        {
          viewBox: `0 0 ${width} ${HEIGHT}`,
          preserveAspectRatio: "none",
          role: "img",
          "aria-label": summary,
          focusable: "false",
        },
        svg("title", {}, summary),
        svg("line", { x1: 0, x2: width, y1: zero, y2: zero, class: "chart-zero", "vector-effect": "non-scaling-stroke" }),
        bars,
      ),
      axis
        ? h("div", { class: "chart-axis", "aria-hidden": "true" }, h("span", {}, axis[0]), h("span", {}, axis[1]))
        : null,
    ),
    legend,
    caption ? h("figcaption", { class: "muted small" }, caption) : null,
  );
}

/** The item with the highest and the lowest `value` (the first of equals), or nulls when there are none. */
export function extremes(items, value) {
  let best = null;
  let worst = null;
  for (const item of items) {
    const v = value(item);
    if (!known(v)) continue;
    if (best === null || Number(v) > Number(value(best))) best = item;
    if (worst === null || Number(v) < Number(value(worst))) worst = item;
  }
  return { best, worst };
}
