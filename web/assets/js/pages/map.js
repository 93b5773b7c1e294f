// map.js - the 168 wards, communes and the special zone of Ho Chi Minh City as a choropleth: boundaries
// from GET /api/v1/orgunits/geojson (the store's own GeoJSON, no tile server), values and ranks from GET
// /api/v1/rank for the chosen indicator and period; the tooltip shows value and rank, a click opens
// the ward's page.
import { get, qs } from "../api.js";
import { h, fill, select } from "../dom.js";
import { t } from "../i18n.js";
import { num, indName, periodLabel, periodBack } from "../fmt.js";
import { chart, esc, registerMap } from "../charts.js";
import { indicators, grid } from "../data.js";
import { navigate } from "../main.js";

const CITY = "79";
let geoCache = null;

/** The boundaries of the city's units valid today (cached for the session). */
export async function cityGeo() {
  if (!geoCache)
    geoCache = get(`/api/v1/orgunits/geojson?${qs({ parent: CITY, valid_on: new Date().toISOString().slice(0, 10) })}`).then((g) => {
      registerMap("hcmc", inset(g));
      return g;
    });
  return geoCache;
}

// Côn Đảo, the special zone, lies 180 km out at sea: drawn where it is, it would shrink the mainland to a
// third of the map. Like printed maps of the city, it is drawn as an inset, moved by this offset
// (degrees of longitude and latitude) into the empty sea south-west of Cần Giờ.
const INSET_SHIFT = [-0.25, 1.45];

/** A copy of the GeoJSON with the special zone moved into its inset (the store's geometry is unchanged). */
function inset(geo) {
  const move = (c) => (typeof c[0] === "number" ? [c[0] + INSET_SHIFT[0], c[1] + INSET_SHIFT[1]] : c.map(move));
  return { ...geo, features: geo.features.map((f) => (f.properties.kind === "special_zone"
    ? { ...f, geometry: { ...f.geometry, coordinates: move(f.geometry.coordinates) } } : f)) };
}

/** The indicators that have values per ward: aggregated over units, reported by month, quarter or year. */
export async function wardIndicators() {
  return (await indicators()).filter((i) => i.agg_space !== "none" && ["month", "quarter", "year"].includes(i.periodicity));
}

/** The periods (latest first) in which the city's units reported the indicator: from the city's roll-up,
 * or, for an indicator that does not roll up to the city (a composite index), from the units themselves. */
export async function reportedPeriods(ind) {
  const city = (await grid([ind], [CITY], ["value"])).filter((r) => r.count > 0).map((r) => r.period);
  if (city.length) return city.reverse();
  const now = new Date();
  const d = await get(`/api/v1/analytics?${qs({ indicator: ind.code, children_of: CITY, from: periodBack(ind.periodicity, now, 24),
    to: periodBack(ind.periodicity, now, 0), transforms: "value", limit: 100000 })}`);
  return [...new Set(d.rows.filter((r) => r.value !== null).map((r) => r.period))].sort().reverse();
}

export async function render(main, { params, seq }) {
  const inds = await wardIndicators();
  const code = params.get("indicator") || (inds.find((i) => i.code === "WARD_DEV_INDEX") || inds[0] || {}).code;
  const ind = inds.find((i) => i.code === code);
  if (!ind) return fill(main, h("p.empty", t("no_data")));
  const [geo, periods] = await Promise.all([cityGeo(), reportedPeriods(ind)]);
  const period = params.get("period") && periods.includes(params.get("period")) ? params.get("period") : periods[0];
  const go = (c, p) => navigate(`/map?${qs({ indicator: c, period: p })}`);
  const head = h("div.page-head", h("h1", t("map_title")),
    h("label.inline", t("indicator"), select(inds.map((i) => [i.code, indName(i)]), code, (c) => go(c, null), { id: "map-indicator" })),
    h("label.inline", t("period"), select(periods.map((p) => [p, periodLabel(p)]), period || "", (p) => go(code, p), { id: "map-period" })));
  const mapEl = h("div.map#map");
  const side = h("aside.side.ranking");
  fill(main, head, h("div.map-layout", mapEl, side));
  if (!period) return fill(side, h("p.empty", t("no_data")));
  const rank = await get(`/api/v1/rank?${qs({ indicator: code, period, children_of: CITY })}`);
  if (!seq()) return;
  const byCode = new Map(rank.units.map((u) => [u.orgunit, u]));
  const names = new Map(geo.features.map((f) => [f.properties.code, f.properties.name]));
  const values = rank.units.filter((u) => names.has(u.orgunit)).map((u) => u.value);
  const lo = Math.min(...values), hi = Math.max(...values);
  const good = ["#7f1d1d", "#c2410c", "#eab308", "#65a30d", "#15803d"];
  const c = chart(mapEl, {
    tooltip: {
      trigger: "item",
      formatter: (p) => {
        const u = byCode.get(p.name);
        const line = u ? `${esc(num(u.value, ind.decimals))} ${esc(ind.unit)}<br>${esc(t("rank"))} ${u.rank}/${rank.units.length}` : esc(t("no_data"));
        return `<b>${esc(names.get(p.name) || p.name)}</b><br>${line}`;
      },
    },
    visualMap: {
      min: lo, max: hi > lo ? hi : lo + 1, calculable: true, left: 10, bottom: 10, textStyle: { color: "#c9d6ea" },
      inRange: { color: ind.polarity === "lower" ? [...good].reverse() : ind.polarity === "neutral" ? ["#1e3a5f", "#4ea1ff", "#d6ecff"] : good },
      formatter: (v) => num(v, ind.decimals),
    },
    series: [{
      type: "map", map: "hcmc", nameProperty: "code", roam: true, selectedMode: false,
      itemStyle: { borderColor: "#0b1526", borderWidth: 0.5, areaColor: "#2a3a55" },
      emphasis: { label: { show: false }, itemStyle: { areaColor: "#4ea1ff" } },
      data: geo.features.map((f) => ({ name: f.properties.code, value: byCode.has(f.properties.code) ? byCode.get(f.properties.code).value : null })),
    }],
  });
  c.on("click", (p) => navigate(`/ward/${encodeURIComponent(p.name)}?indicator=${encodeURIComponent(code)}`));
  mapEl.dataset.regions = String(geo.features.length);
  const row = (u) => h("li", h("span.rank", String(u.rank)), h("a", { href: `/ward/${u.orgunit}` }, u.name),
    h("span.val", num(u.value, ind.decimals)));
  fill(side, h("h2", `${indName(ind)} · ${periodLabel(period)}`), h("p.meta", `${ind.unit} · ${t("polarity_" + ind.polarity)}`),
    h("h3", t("best_units")), h("ol.rank-list#rank-top", rank.units.slice(0, 10).map(row)),
    h("h3", t("weakest_units")), h("ol.rank-list", rank.units.slice(-5).map(row)));
}
