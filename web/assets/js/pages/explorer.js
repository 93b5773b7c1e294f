// explorer.js - one indicator at one unit: the series with the year's plan, the year-on-year and
// year-to-date views, the forecast with its 80% and 95% intervals and back-test accuracy, the table of
// every period, CSV and XLSX downloads of the same grid from the server, and the indicator's metadata (definition, owner, periodicity, unit, polarity, source).
import { get, qs } from "../api.js";
import { h, fill, select } from "../dom.js";
import { t } from "../i18n.js";
import { num, pct, indName, periodLabel, periodBack, statusClass, colours } from "../fmt.js";
import { chart, axis } from "../charts.js";
import { indicators } from "../data.js";
import { can, navigate } from "../main.js";

const VIEWS = ["value", "yoy", "ytd"];
const TRANSFORMS = ["value", "yoy_pct", "ytd", "plan", "plan_pct", "status"];
const WINDOW = { year: 15, quarter: 40, month: 60, day: 90, hour: 3 };

export async function render(main, { arg, params, seq }) {
  const all = await indicators();
  const ind = all.find((i) => i.code === arg) || all.find((i) => i.code === "RETAIL_SALES") || all[0];
  const unitCode = params.get("unit") || "79";
  const view = VIEWS.includes(params.get("view")) ? params.get("view") : "value";
  const go = (c, u, v) => navigate(`/indicator/${encodeURIComponent(c)}?${qs({ unit: u, view: v })}`);
  const [unit, detail] = await Promise.all([get(`/api/v1/orgunits/${encodeURIComponent(unitCode)}`), get(`/api/v1/indicators/${encodeURIComponent(ind.code)}`)]);
  const per = ind.periodicity === "hour" ? "day" : ["week", "half"].includes(ind.periodicity) ? "month" : ind.periodicity;
  const now = new Date();
  const grid = { indicator: ind.code, orgunit: unit.code, from: periodBack(per, now, WINDOW[ind.periodicity] || 60), to: periodBack(per, now, 0), transforms: TRANSFORMS.join(","), limit: 100000 };
  const data = await get(`/api/v1/analytics?${qs(grid)}`);
  if (!seq()) return;
  const rows = trimEmpty(data.rows);
  const unitOptions = [["79", t("city")], ["VN", t("country")]];
  if (!unitOptions.some(([c]) => c === unit.code)) unitOptions.push([unit.code, unit.name]);
  const chartEl = h("div.chart.big#explorer-chart");
  fill(main,
    h("div.page-head", h("h1", indName(ind)),
      h("label.inline", t("indicator"), select(all.map((i) => [i.code, `${i.code} · ${indName(i)}`]), ind.code, (c) => go(c, unit.code, view), { id: "explorer-indicator" })),
      h("label.inline", t("orgunit"), select(unitOptions, unit.code, (u) => go(ind.code, u, view), { id: "explorer-unit" })),
      h("div.tabs", VIEWS.map((v) => h("button", { type: "button", class: v === view ? "active" : null, dataset: { view: v }, on: { click: () => go(ind.code, unit.code, v) } }, t(`view_${v}`)))),
      h("div.downloads",
        h("a.button#download-csv", { href: `/api/v1/analytics?${qs({ ...grid, format: "csv" })}`, download: `${ind.code}_${unit.code}.csv` }, "CSV"),
        h("a.button#download-xlsx", { href: `/api/v1/analytics?${qs({ ...grid, format: "xlsx" })}`, download: `${ind.code}_${unit.code}.xlsx` }, "XLSX"))),
    h("div.explorer-layout", h("section.panel", chartEl, table(ind, rows)), metadata(ind, detail)));
  if (!rows.length) return fill(chartEl, h("p.empty", t("no_data")));
  const fc = view === "value" ? await forecast(ind, unit, rows) : null;
  if (!seq()) return;
  drawChart(chartEl, ind, rows, view, fc);
  if (fc) document.getElementById("explorer-meta").append(forecastFacts(ind, fc));
}

// A forecast needs history: the server answers 404 for a series too short to fit, and the page asks only
// when there is enough (two years of months, eight quarters, eight years).
const MIN_HISTORY = 24;

/** The stored or computed forecast of the series (12 periods ahead), or null when there is none to ask. */
async function forecast(ind, unit, rows) {
  if (!can("GET", "/api/v1/forecast/{indicator}/{orgunit}")) return null;
  if (rows.filter((r) => r.value !== null).length < (ind.periodicity === "month" ? MIN_HISTORY : 8)) return null;
  return get(`/api/v1/forecast/${encodeURIComponent(ind.code)}/${encodeURIComponent(unit.code)}?${qs({ h: 12 })}`);
}

function forecastFacts(ind, fc) {
  const best = (fc.accuracy || []).find((a) => a.method === fc.method);
  return h("div#forecast-facts", h("h3", t("forecast")), h("dl",
    h("dt", t("model")), h("dd", fc.model),
    h("dt", t("origin")), h("dd", periodLabel(fc.origin)),
    best ? [h("dt", "sMAPE"), h("dd", `${num(best.smape, 2)} %`), h("dt", t("coverage95")), h("dd", `${num(best.coverage95, 0)} %`)] : null));
}

/** The rows from the first to the last period with a value (the window is wider than most series). */
function trimEmpty(rows) {
  const first = rows.findIndex((r) => r.value !== null);
  if (first < 0) return [];
  let last = rows.length - 1;
  while (rows[last].value === null) last--;
  return rows.slice(first, last + 1);
}

function drawChart(el, ind, rows, view, fc) {
  const ahead = fc ? fc.values : [];
  const x = rows.map((r) => periodLabel(r.period)).concat(ahead.map((v) => periodLabel(v.period)));
  const series = [];
  if (view === "value") {
    series.push({ name: t("value"), type: "line", data: rows.map((r) => r.value), smooth: true, lineStyle: { width: 3 } });
    if (fc) {
      // the intervals as bands: an invisible base at the low bound, and the width above it, stacked
      const pad = rows.slice(0, -1).map(() => null), last = rows[rows.length - 1].value;
      const band = (lo, hi, name, opacity) => [
        { name, type: "line", stack: name, data: pad.concat([last], ahead.map((v) => v[lo])), lineStyle: { opacity: 0 }, showSymbol: false, silent: true, tooltip: { show: false } },
        { name, type: "line", stack: name, data: pad.concat([0], ahead.map((v) => v[hi] - v[lo])), lineStyle: { opacity: 0 }, showSymbol: false,
          areaStyle: { color: colours.accent, opacity }, silent: true, tooltip: { show: false } }];
      series.push(...band("lo95", "hi95", t("interval95"), 0.15), ...band("lo80", "hi80", t("interval80"), 0.25));
      series.push({ name: t("forecast"), type: "line", data: pad.concat([last], ahead.map((v) => v.mean)), lineStyle: { type: "dashed", width: 2 }, showSymbol: false });
    }
  } else if (view === "yoy") {
    series.push({ name: t("vs_last_year"), type: "bar", data: rows.map((r) => ({ value: r.yoy_pct, itemStyle: { color: colours[statusClass(null, r.yoy_pct, ind.polarity)] } })) });
  } else {
    series.push({ name: t("view_ytd"), type: "line", data: rows.map((r) => r.ytd), smooth: true, lineStyle: { width: 3 } });
    series.push({ name: t("plan"), type: "line", step: "end", data: rows.map((r) => r.plan), lineStyle: { type: "dashed", color: colours.warn }, itemStyle: { color: colours.warn }, showSymbol: false });
  }
  chart(el, {
    tooltip: { trigger: "axis" }, legend: { textStyle: { color: "#c9d6ea" }, top: 0 },
    grid: { left: 70, right: 30, top: 40, bottom: 60 },
    dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 10 }],
    xAxis: axis({ type: "category", data: x }),
    yAxis: axis({ type: "value", scale: view !== "yoy", name: view === "yoy" ? "%" : ind.unit }),
    series,
  });
}

function table(ind, rows) {
  const cols = [t("period"), t("value"), t("vs_last_year"), t("view_ytd"), t("of_plan"), t("status")];
  return h("div.table-wrap", h("table.data#explorer-table",
    h("thead", h("tr", cols.map((c) => h("th", c)))),
    h("tbody", rows.slice().reverse().map((r) => h("tr", { dataset: { period: r.period } },
      h("td", periodLabel(r.period)), h("td.num", num(r.value, ind.decimals)),
      h(`td.num.${statusClass(null, r.yoy_pct, ind.polarity)}`, pct(r.yoy_pct)), h("td.num", num(r.ytd, ind.decimals)),
      h("td.num", r.plan_pct === null ? "—" : `${num(r.plan_pct, 1)} %`),
      h(`td.${statusClass(r.status, null, ind.polarity)}`, r.status ? t(`status_${r.status}`) : "—"))))));
}

function metadata(ind, detail) {
  const row = (k, v) => (v === undefined || v === null || v === "" ? null : [h("dt", t(k)), h("dd", String(v))]);
  const targets = (detail.targets || []).filter((x) => x.orgunit === "79" || x.orgunit === "VN");
  return h("aside.panel.meta#explorer-meta", h("h2", t("metadata")),
    h("dl",
      row("code", ind.code), row("definition", ind.description), row("owner", ind.owner),
      row("periodicity", t(`per_${ind.periodicity}`, null, ind.periodicity)), row("unit", ind.unit),
      row("polarity", t(`polarity_${ind.polarity}`)), row("aggregation", `${ind.agg_space} / ${ind.agg_time}`),
      row("sector", ind.sector), row("formula", ind.formula), row("legal_ref", ind.legal_ref), row("source", ind.source)),
    targets.length ? [h("h3", t("targets")), h("ul.list", targets.map((x) => h("li", `${x.orgunit} · ${x.period} · ${t("kind_" + x.kind, null, x.kind)}: ${num(x.value, ind.decimals)} ${ind.unit}`)))] : null);
}
