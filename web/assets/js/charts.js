// charts.js - ECharts (loaded by index.html from the pinned npm build, served by databrain itself) with
// the dashboard's dark theme: every chart of the page is tracked so that a page change disposes them and
// a window resize (wall <-> laptop) resizes them.
import { colours } from "./fmt.js";

const live = new Set();
const TEXT = "#c9d6ea";
const GRID = "#233552";

function ec() {
  if (!window.echarts) throw new Error("ECharts did not load");
  return window.echarts;
}

/** An ECharts instance on el with option set; disposed with the page. */
export function chart(el, option) {
  const c = ec().init(el, null, { renderer: "canvas" });
  c.setOption({ backgroundColor: "transparent", textStyle: { color: TEXT, fontFamily: "inherit" }, animation: false, ...option });
  live.add(c);
  return c;
}

export function disposeCharts() {
  for (const c of live) c.dispose();
  live.clear();
}

window.addEventListener("resize", () => { for (const c of live) c.resize(); });

/** Escapes text for an ECharts HTML tooltip. */
export function esc(s) {
  return ec().format.encodeHTML(String(s === null || s === undefined ? "" : s));
}

/** The axis style of the dashboard's line and bar charts. */
export function axis(extra = {}) {
  return { axisLine: { lineStyle: { color: GRID } }, splitLine: { lineStyle: { color: GRID } }, axisLabel: { color: TEXT }, ...extra };
}

/** A small line without axes: the last values of a series. */
export function sparkline(el, values, colour = colours.accent) {
  return chart(el, {
    grid: { left: 2, right: 2, top: 4, bottom: 2 },
    xAxis: { type: "category", show: false, data: values.map((_, i) => i) },
    yAxis: { type: "value", show: false, scale: true },
    series: [{ type: "line", data: values, showSymbol: false, lineStyle: { width: 2, color: colour }, areaStyle: { color: colour, opacity: 0.15 } }],
  });
}

/** Registers the GeoJSON of the units under `name` (once per name and document). */
export function registerMap(name, geojson) {
  ec().registerMap(name, geojson);
}
