// quality.js - data supply and quality: the agencies' scorecards for a month (completeness, timeliness,
// validity, score, rank), a heat map of completeness and timeliness by agency and month, and the open
// violations of the validation rules.
import { get, qs } from "../api.js";
import { h, fill, select } from "../dom.js";
import { t } from "../i18n.js";
import { num, periodLabel, periodBack } from "../fmt.js";
import { chart, esc } from "../charts.js";
import { navigate } from "../main.js";

const share = (v) => (v === null || v === undefined ? "—" : `${num(100 * v, 1)} %`);

export async function render(main, { params, seq }) {
  const months = Array.from({ length: 18 }, (_, i) => periodBack("month", new Date(), i + 1));
  const byAgency = await get(`/api/v1/quality/completeness?${qs({ by: "agency" })}`);
  const agencies = byAgency.rows.map((r) => r.key);
  const perAgency = await Promise.all(agencies.map((a) => get(`/api/v1/quality/completeness?${qs({ by: "period", agency: a })}`)));
  const periods = [...new Set(perAgency.flatMap((d) => d.rows.map((r) => r.key)))].sort();
  const period = params.get("period") || periods[periods.length - 1] || months[0];
  const [cards, violations] = await Promise.all([get(`/api/v1/quality/scorecards?${qs({ period })}`), get(`/api/v1/quality/violations?${qs({ status: "open" })}`)]);
  if (!seq()) return;
  const picker = select([...new Set([...periods].reverse().concat(months))].map((p) => [p, periodLabel(p)]), period,
    (p) => navigate(`/quality?${qs({ period: p })}`), { id: "quality-period" });
  const heatC = h("div.chart#heat-completeness"), heatT = h("div.chart#heat-timeliness");
  fill(main,
    h("div.page-head", h("h1", t("quality_title")), h("label.inline", t("period"), picker)),
    h("section.panel", h("h2", `${t("scorecards")} · ${periodLabel(period)}`), cards.agencies.length ? h("table.data#scorecards",
      h("thead", h("tr", [t("rank"), t("agency"), t("expected"), t("received"), t("completeness"), t("timeliness"), t("validity"), t("score")].map((c) => h("th", c)))),
      h("tbody", cards.agencies.map((r) => h("tr", { dataset: { agency: r.agency } }, h("td.num", String(r.rank)), h("td", r.agency),
        h("td.num", num(r.expected, 0)), h("td.num", num(r.received, 0)), h("td.num", share(r.completeness)), h("td.num", share(r.timeliness)),
        h("td.num", share(r.validity)), h(`td.num.${r.score >= 90 ? "good" : r.score >= 70 ? "warn" : "bad"}`, num(r.score, 1)))))) : h("p.empty", t("no_obligations"))),
    h("div.quality-heat", h("section.panel", h("h2", t("completeness")), heatC), h("section.panel", h("h2", t("timeliness")), heatT)),
    h("section.panel", h("h2", t("violations")), violationTable(violations.violations)));
  if (agencies.length && periods.length) {
    heat(heatC, agencies, periods, perAgency, "completeness");
    heat(heatT, agencies, periods, perAgency, "timeliness");
  }
}

function heat(el, agencies, periods, perAgency, field) {
  const data = [];
  perAgency.forEach((d, y) => d.rows.forEach((r) => {
    if (r[field] !== null) data.push([periods.indexOf(r.key), y, Math.round(1000 * r[field]) / 10]);
  }));
  chart(el, {
    tooltip: { formatter: (p) => `${esc(agencies[p.value[1]])} · ${esc(periodLabel(periods[p.value[0]]))}<br>${esc(num(p.value[2], 1))} %` },
    grid: { left: 80, right: 20, top: 10, bottom: 60 },
    xAxis: { type: "category", data: periods.map(periodLabel), axisLabel: { color: "#c9d6ea" } },
    yAxis: { type: "category", data: agencies, axisLabel: { color: "#c9d6ea" } },
    visualMap: { min: 0, max: 100, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, textStyle: { color: "#c9d6ea" },
      inRange: { color: ["#7f1d1d", "#c2410c", "#eab308", "#15803d"] } },
    series: [{ type: "heatmap", data, label: { show: periods.length <= 12, color: "#04101f", formatter: (p) => num(p.value[2], 0) } }],
  });
}

function violationTable(list) {
  if (!list.length) return h("p.empty", t("no_violations"));
  const cols = Object.keys(list[0]).filter((k) => typeof list[0][k] !== "object" || list[0][k] === null).slice(0, 8);
  return h("table.data#violations", h("thead", h("tr", cols.map((c) => h("th", c)))),
    h("tbody", list.map((v) => h("tr", cols.map((c) => h("td", v[c] === null || v[c] === undefined ? "" : String(v[c])))))));
}
