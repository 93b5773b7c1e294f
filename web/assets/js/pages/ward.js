// ward.js - one ward, commune or special zone: who it is (population, area, the units merged into it in
// 2025), its indicators in their latest period with the change on a year and its rank among the city's
// units, the trend of the chosen indicator, and the unit's tasks and alerts.
import { get, qs } from "../api.js";
import { h, fill, select } from "../dom.js";
import { lang, t } from "../i18n.js";
import { num, pct, indName, unitName, periodLabel, statusClass } from "../fmt.js";
import { chart, axis } from "../charts.js";
import { grid, latestByIndicator } from "../data.js";
import { wardIndicators } from "./map.js";
import { can, navigate } from "../main.js";

export async function render(main, { arg, params, seq }) {
  if (!arg) return navigate("/map");
  const unit = await get(`/api/v1/orgunits/${encodeURIComponent(arg)}`);
  const inds = await wardIndicators();
  const rows = await grid(inds, [unit.code], ["value", "yoy_pct"]);
  if (!seq()) return;
  const latest = latestByIndicator(rows, [unit.code]);
  const shown = inds.filter((i) => latest.has(i.code));
  const ranks = await siblingRanks(unit, shown, latest);
  if (!seq()) return;
  const history = (i) => latest.get(i.code).rows.filter((r) => r.value !== null).length;
  const chosen = params.get("indicator") && latest.has(params.get("indicator")) ? params.get("indicator")
    : (shown.find((i) => history(i) > 1) || shown[0] || {}).code;
  const attrs = unit.attributes || {};
  fill(main,
    h("div.page-head", h("h1#ward-name", unitName(unit)), h("span.meta", `${t("kind_" + unit.kind, null, unit.kind)} · ${t("code")} ${unit.code}`)),
    h("div.ward-layout",
      h("section.panel.facts",
        h("h2", t("ward_facts")),
        h("dl",
          h("dt", t("population")), h("dd", num(unit.population, 0)),
          h("dt", t("area")), h("dd", `${num(unit.area_km2, 2)} km²`),
          attrs.admin_center ? [h("dt", t("admin_center")), h("dd", attrs.admin_center)] : null,
          attrs.pre_merger_units ? [h("dt", t("merged_from")), h("dd", attrs.pre_merger_units)] : null)),
      h("section.panel.ward-trend", h("h2", t("trend")),
        select(shown.map((i) => [i.code, indName(i)]), chosen || "", (c) => navigate(`/ward/${unit.code}?indicator=${c}`), { id: "ward-indicator" }),
        h("div.chart#ward-chart"))),
    h("section.panel", h("h2", t("ward_indicators")),
      h("table.data#ward-table",
        h("thead", h("tr", [t("indicator"), t("period"), t("value"), t("unit"), t("vs_last_year"), t("rank")].map((x) => h("th", x)))),
        h("tbody", shown.map((i) => {
          const r = latest.get(i.code).last, k = ranks.get(i.code);
          return h("tr", { dataset: { indicator: i.code } },
            h("td", h("a", { href: `/indicator/${i.code}?unit=${unit.code}` }, indName(i))), h("td", periodLabel(r.period)),
            h("td.num", num(r.value, i.decimals)), h("td", i.unit),
            h(`td.num.${statusClass(null, r.yoy_pct, i.polarity)}`, pct(r.yoy_pct)),
            h("td.num.rank", k ? `${k.rank}/${k.of}` : "—"));
        })))));
  const extra = h("div.ward-layout#ward-work");
  main.append(extra);
  if (can("GET", "/api/v1/tasks")) {
    const d = await get(`/api/v1/tasks?${qs({ unit: unit.code })}`);
    extra.append(h("section.panel#ward-tasks", h("h2", t("ward_tasks")), d.tasks.length
      ? h("ul.list", d.tasks.map((k) => h("li", { class: k.overdue ? "bad" : null }, h("a", { href: `/tasks?task=${k.id}` }, k.title),
        h("span.meta", `${k.lead} · ${t("state_" + k.state, null, k.state)} · ${t("deadline")} ${k.due}`))))
      : h("p.empty", t("no_tasks"))));
  }
  if (can("GET", "/api/v1/alerts")) {
    const d = await get(`/api/v1/alerts?${qs({ unit: unit.code })}`);
    extra.append(h("section.panel#ward-alerts", h("h2", t("ward_alerts")), d.alerts.length
      ? h("ul.list", d.alerts.map((a) => h("li", { class: a.state === "firing" ? "bad" : null },
        (a.message && (a.message[lang()] || a.message.vi)) || a.rule, h("span.meta", `${t("sev_" + a.severity, null, a.severity)} · ${t("state_" + a.state, null, a.state)}`))))
      : h("p.empty", t("no_alerts"))));
  }
  if (!seq()) return;
  if (chosen) {
    const ind = shown.find((i) => i.code === chosen), series = latest.get(chosen).rows.filter((r) => r.value !== null);
    chart(document.getElementById("ward-chart"), {
      tooltip: { trigger: "axis" }, grid: { left: 60, right: 20, top: 20, bottom: 30 },
      xAxis: axis({ type: "category", data: series.map((r) => periodLabel(r.period)) }),
      yAxis: axis({ type: "value", scale: true, name: ind.unit }),
      series: [{ type: "line", data: series.map((r) => r.value), smooth: true }],
    });
  }
}

/** The unit's rank among its parent's units for each indicator, in the indicator's latest period:
 * Map code -> {rank, of}. */
async function siblingRanks(unit, inds, latest) {
  const out = new Map();
  if (!unit.parent) return out;
  const byPeriod = new Map();
  for (const i of inds) {
    const p = latest.get(i.code).last.period;
    if (!byPeriod.has(p)) byPeriod.set(p, []);
    byPeriod.get(p).push(i.code);
  }
  await Promise.all([...byPeriod.entries()].map(async ([p, codes]) => {
    const d = await get(`/api/v1/analytics?${qs({ indicator: codes.join(","), children_of: unit.parent, from: p, to: p, transforms: "rank", limit: 100000 })}`);
    const of = new Map();
    for (const r of d.rows) if (r.rank !== null) of.set(r.indicator, (of.get(r.indicator) || 0) + 1);
    for (const r of d.rows) if (r.orgunit === unit.code && r.rank !== null) out.set(r.indicator, { rank: r.rank, of: of.get(r.indicator) });
  }));
  return out;
}
