// overview.js - the leaders' first screen: KPI tiles for a chosen indicator group (the latest value with
// its unit, against the same period last year, percent of the year's plan, a status colour read with the
// indicator's polarity, a sparkline), and beside them the latest alerts (live, from the event stream),
// the overdue tasks and this month's data supply (units that reported against units expected); a panel
// shows when the role may read its API.
import { h, fill, select, errorBox } from "../dom.js";
import { t } from "../i18n.js";
import { num, pct, indName, periodLabel, statusClass, colours } from "../fmt.js";
import { sparkline } from "../charts.js";
import { indicators, groups, grid, latestByIndicator } from "../data.js";
import { can, navigate } from "../main.js";
import { liveAlerts } from "./alerts.js";
import { overdueList } from "./tasks.js";

const UNITS = ["79", "VN"];
const TILE_PERIODS = ["month", "quarter", "year", "half", "week"];

export async function render(main, { params, seq }) {
  const all = await indicators();
  const gs = await groups();
  const group = params.get("group") || (gs.includes("plan2025") ? "plan2025" : gs[0]);
  const picker = select(gs.map((g) => [g, t(`group_${g}`, null, g)]), group, (g) => navigate(`/?group=${encodeURIComponent(g)}`), { id: "group-picker" });
  const tiles = h("section.tiles#kpi-tiles", h("div.loading", t("loading")));
  const side = h("aside.side");
  fill(main, h("div.page-head", h("h1", t("overview_title")), h("label.inline", t("indicator_group"), picker)), h("div.overview", tiles, side));
  const inds = all.filter((i) => (i.groups || "").split(";").includes(group) && TILE_PERIODS.includes(i.periodicity));
  const rows = await grid(inds, UNITS, ["value", "yoy", "yoy_pct", "plan_pct", "status"]);
  if (!seq()) return;
  const latest = latestByIndicator(rows, UNITS);
  fill(tiles, inds.filter((i) => latest.has(i.code)).map((i) => tile(i, latest.get(i.code))));
  if (!tiles.children.length) fill(tiles, h("p.empty", t("no_data")));
  for (const el of tiles.querySelectorAll(".spark")) sparkline(el, JSON.parse(el.dataset.values), colours[el.dataset.status]);
  await sidePanels(side, all, seq);
}

function tile(ind, { unit, rows, last }) {
  const change = yearChange(ind, last);
  const cls = statusClass(last.status, change.value, ind.polarity);
  const values = rows.filter((r) => r.value !== null).slice(-24).map((r) => r.value);
  return h(`a.tile.${cls}`, { href: `/indicator/${encodeURIComponent(ind.code)}?unit=${unit}`, dataset: { indicator: ind.code, unit, period: last.period, value: last.value } },
    h("div.tile-name", indName(ind)),
    h("div.tile-where", `${unit === "VN" ? t("country") : t("city")} · ${periodLabel(last.period)}`),
    h("div.tile-value", h("span.value", num(last.value, ind.decimals)), " ", h("span.unit", ind.unit)),
    h("div.tile-facts",
      h("span.yoy", { title: t("vs_last_year") }, `${t("yoy_short")} ${change.text}`),
      last.plan_pct !== null ? h("span.plan", { title: t("of_plan") }, `${t("plan_short")} ${num(last.plan_pct, 1)} %`) : null),
    h("div.spark", { dataset: { values: JSON.stringify(values), status: cls } }));
}

/** The change on the same period last year: in percentage points for a rate (an indicator in %, whose
 * relative change would mislead), else in percent. */
function yearChange(ind, row) {
  if (ind.unit === "%") {
    const v = row.yoy;
    return { value: v, text: v === null || v === undefined ? "—" : `${v > 0 ? "+" : ""}${num(v, ind.decimals)} ${t("points")}` };
  }
  return { value: row.yoy_pct, text: pct(row.yoy_pct) };
}

async function sidePanels(side, all, seq) {
  const panels = [];
  if (can("GET", "/api/v1/alerts")) panels.push(panel("alerts", t("latest_alerts"), () => liveAlerts({ limit: 6 })));
  if (can("GET", "/api/v1/tasks")) panels.push(panel("tasks", t("overdue_tasks"), () => overdueList(6)));
  panels.push(panel("supply", t("data_supply"), () => dataSupply(all)));
  fill(side, panels.map((p) => p.el));
  await Promise.all(panels.map(async (p) => {
    try {
      const body = await p.load();
      if (seq()) fill(p.body, body);
    } catch (e) {
      if (seq()) fill(p.body, errorBox(e));
    }
  }));
}

function panel(id, title, load) {
  const body = h("div.panel-body", h("div.loading", t("loading")));
  return { el: h(`section.panel#panel-${id}`, h("h2", title), body), body, load };
}

/** This month's data supply: of the units that must report each ward indicator, how many did, for the
 * latest month with data (from the analytics counts: reported units against expected units). */
async function dataSupply(all) {
  const inds = all.filter((i) => (i.groups || "").split(";").includes("ward_panel") && !i.formula);
  if (!inds.length) return h("p.empty", t("no_data"));
  const rows = await grid(inds, ["79"], ["value"]);
  const latest = latestByIndicator(rows, ["79"]);
  return h("ul.supply", inds.filter((i) => latest.has(i.code)).map((i) => {
    const r = latest.get(i.code).last;
    const share = r.expected ? (100 * r.count) / r.expected : 0;
    const fillEl = h("span.fill", { class: share >= 99.95 ? "good" : share >= 90 ? "warn" : "bad" });
    fillEl.style.width = `${Math.min(100, share)}%`;
    return h("li", { dataset: { indicator: i.code } }, h("span.name", indName(i)), h("span.bar", fillEl),
      h("span.count", `${r.count}/${r.expected} · ${periodLabel(r.period)}`));
  }));
}
