// fmt.js - numbers, periods and status colours as the city's reports show them.
import { lang, t } from "./i18n.js";

/** A number with the indicator's decimals in the current language's notation ("—" when missing). */
export function num(v, decimals = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  const d = Math.max(0, Math.min(decimals, 6));
  return new Intl.NumberFormat(lang() === "vi" ? "vi-VN" : "en-GB", {
    minimumFractionDigits: d,
    maximumFractionDigits: d,
  }).format(v);
}

/** A signed percentage ("+10,4 %"). */
export function pct(v, decimals = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  return (v > 0 ? "+" : "") + num(v, decimals) + " %";
}

/** The indicator's name in the current language. */
export function indName(ind) {
  return (lang() === "en" && ind.name_en) || ind.name || ind.code;
}

export function unitName(u) {
  return (lang() === "en" && u.name_en) || u.name || u.code;
}

/** The code of the period `back` steps before the period containing `date` (month, quarter, year, day). */
export function periodBack(periodicity, date, back) {
  const y = date.getUTCFullYear(), m = date.getUTCMonth();
  if (periodicity === "year") return String(y - back);
  if (periodicity === "quarter") {
    const q = y * 4 + Math.floor(m / 3) - back;
    return `${Math.floor(q / 4)}-Q${(q % 4) + 1}`;
  }
  if (periodicity === "day" || periodicity === "hour") {
    const d = new Date(date.getTime() - back * 86400000);
    return d.toISOString().slice(0, 10);
  }
  const k = y * 12 + m - back;
  return `${Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, "0")}`;
}

/** A period code as a reader says it ("2025-03" -> "T3/2025" or "Mar 2025"). */
export function periodLabel(p) {
  if (!p) return "";
  let m = /^(\d{4})-(\d{2})$/.exec(p);
  if (m) return lang() === "vi" ? `T${Number(m[2])}/${m[1]}` : `${t("month_short")[Number(m[2]) - 1]} ${m[1]}`;
  m = /^(\d{4})-Q(\d)$/.exec(p);
  if (m) return lang() === "vi" ? `Quý ${m[2]}/${m[1]}` : `Q${m[2]} ${m[1]}`;
  return p.replace("T", " ");
}

/** The colour class of a status: the analytics status (plan), else the direction of the change read with
 * the indicator's polarity. Returns "good", "warn", "bad" or "neutral". */
export function statusClass(status, change, polarity) {
  if (status === "on_track") return "good";
  if (status === "at_risk") return "warn";
  if (status === "off_track") return "bad";
  if (change === null || change === undefined || polarity === "neutral" || !polarity) return "neutral";
  const better = polarity === "higher" ? change > 0 : change < 0;
  return change === 0 ? "neutral" : better ? "good" : "bad";
}

/** Colours of the status classes, shared by the tiles and the charts. */
export const colours = { good: "#2ec27e", warn: "#f5c211", bad: "#ed333b", neutral: "#8fa3bf", accent: "#4ea1ff" };
