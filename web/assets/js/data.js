// data.js - what several pages read: the catalog (cached for the session), and analytics grids over a
// window that ends today, one request per periodicity (the server converts from/to to each indicator's
// own periods, and hourly series would make a window of years too large).
import { get, qs } from "./api.js";
import { periodBack } from "./fmt.js";

let indicatorCache = null;

/** The indicators the caller may see, in catalog order. */
export async function indicators() {
  if (!indicatorCache) indicatorCache = get("/api/v1/indicators").then((d) => d.indicators);
  return indicatorCache;
}

/** Forgets the cached catalog (after a steward's edit). */
export function catalogChanged() { indicatorCache = null; }

export async function indicatorMap() {
  return new Map((await indicators()).map((i) => [i.code, i]));
}

/** The groups of the catalog's indicators, most used first. */
export async function groups() {
  const n = new Map();
  for (const i of await indicators()) for (const g of (i.groups || "").split(";").filter(Boolean)) n.set(g, (n.get(g) || 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1]).map(([g]) => g);
}

// How far back a window reaches, per periodicity.
const WINDOW = { year: 15, half: 20, quarter: 40, month: 120, week: 104, day: 90, hour: 3 };

/** Rows of GET /api/v1/analytics for the indicators at the units over a window ending now (all pages). */
export async function grid(inds, units, transforms, now = new Date()) {
  const byPer = new Map();
  for (const i of inds) {
    const p = i.periodicity === "hour" ? "day" : i.periodicity;
    if (!byPer.has(p)) byPer.set(p, []);
    byPer.get(p).push(i.code);
  }
  const parts = await Promise.all([...byPer.entries()].map(([per, codes]) => {
    const base = per === "week" || per === "half" ? "month" : per;
    const params = { indicator: codes.join(","), orgunit: units.join(","), from: periodBack(base, now, WINDOW[per] || 24),
      to: periodBack(base, now, 0), transforms: transforms.join(","), limit: 100000 };
    return get(`/api/v1/analytics?${qs(params)}`).then((d) => d.rows);
  }));
  return parts.flat();
}

/** Per indicator, the unit with the most recent value (the first unit of `units` on a tie) and its rows
 * in period order: Map code -> {unit, rows, last} where last is the latest row with a value. */
export function latestByIndicator(rows, units) {
  const by = new Map();
  for (const r of rows) {
    const k = `${r.indicator}|${r.orgunit}`;
    if (!by.has(k)) by.set(k, []);
    by.get(k).push(r);
  }
  const out = new Map();
  for (const [k, list] of by) {
    const [code, unit] = k.split("|");
    const withValue = list.filter((r) => r.value !== null);
    if (!withValue.length) continue;
    const last = withValue[withValue.length - 1];
    const cur = out.get(code);
    const better = !cur || last.period > cur.last.period || (last.period === cur.last.period && units.indexOf(unit) < units.indexOf(cur.unit));
    if (better) out.set(code, { unit, rows: list, last });
  }
  return out;
}
