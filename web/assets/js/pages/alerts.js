// alerts.js - the alerts page: the live alert list (the first page from GET /api/v1/alerts, then every
// alert.* event of the Server-Sent Events stream GET /api/v1/events, without a reload), acknowledge and
// assign for the roles that direct (leader, admin), and the scenarios: the active one's board (its
// panels, checklist and timeline) and the simulation form.
import { api, get, qs } from "../api.js";
import { h, fill, select, errorBox } from "../dom.js";
import { lang, t } from "../i18n.js";
import { num, indName, periodLabel } from "../fmt.js";
import { indicatorMap } from "../data.js";
import { can } from "../main.js";

let stream = null;

/** Closes the live stream of the page that was left (main.js calls it on every page change). */
export function leave() {
  if (stream) stream.close();
  stream = null;
}

/** A live list of alerts, newest first, updated from the event stream; `limit` rows at most. Returns the
 * element; the stream lives until leave(). */
export async function liveAlerts({ limit = 50, actions = false } = {}) {
  const list = h("ul.alerts#alert-list", { "aria-live": "polite" });
  const byId = new Map();
  const draw = () => {
    const items = [...byId.values()].sort((a, b) => b.id - a.id).slice(0, limit);
    fill(list, items.length ? items.map((a) => alertItem(a, actions, refresh)) : h("li.empty", t("no_alerts")));
  };
  const refresh = async (id) => {
    byId.set(id, await get(`/api/v1/alerts/${id}`));
    draw();
  };
  const first = await get(`/api/v1/alerts?${qs({ limit })}`);
  for (const a of first.alerts) byId.set(a.id, a);
  draw();
  leave();
  stream = new EventSource(`/api/v1/events?${qs({ kind: "alert" })}`);
  for (const kind of ["pending", "firing", "resolved", "cleared", "acknowledged", "assigned", "silenced", "stale", "fresh", "repeat"])
    stream.addEventListener(`alert.${kind}`, (ev) => {
      const d = JSON.parse(ev.data).data || {};
      if (d.alert) refresh(d.alert).catch(() => {});
    });
  return list;
}

function alertItem(a, actions, refresh) {
  const msg = (a.message && (a.message[lang()] || a.message.vi)) || `${a.rule} · ${a.unit}`;
  const li = h(`li.alert.sev-${a.severity}.state-${a.state}`, { dataset: { id: a.id, rule: a.rule, unit: a.unit, state: a.state } },
    h("div.alert-head", h("span.sev", t(`sev_${a.severity}`, null, a.severity)), h("span.state", t(`state_${a.state}`, null, a.state)),
      h("span.when", periodLabel(a.firing_at || a.pending_at || ""))),
    h("div.alert-msg", msg),
    h("div.alert-meta", h("a", { href: `/ward/${encodeURIComponent(a.unit)}` }, a.unit_name || a.unit), ` · ${a.rule}`,
      a.acknowledged ? ` · ${t("acknowledged_by")} ${a.acknowledged.by}` : null,
      a.assigned ? ` · ${t("assigned_to")} ${a.assigned.agency}` : null));
  if (actions && can("POST", "/api/v1/alerts/{id}/acknowledge") && !a.acknowledged && a.state !== "resolved")
    li.append(h("button.ack", { type: "button", on: { click: () => decide(li, a, "acknowledge", {}, refresh) } }, t("acknowledge")));
  if (actions && can("POST", "/api/v1/alerts/{id}/assign") && !a.assigned && a.state !== "resolved")
    li.append(assignForm(li, a, refresh));
  return li;
}

async function decide(li, a, what, body, refresh) {
  try {
    await api("POST", `/api/v1/alerts/${a.id}/${what}`, body);
    await refresh(a.id);
  } catch (e) {
    li.append(errorBox(e));
  }
}

let agencyCache = null;

function assignForm(li, a, refresh) {
  const pick = h("select.agency", { "aria-label": t("agency") });
  (agencyCache || (agencyCache = get("/api/v1/agencies").then((d) => d.agencies))).then((list) =>
    fill(pick, list.map((g) => h("option", { value: g.code }, `${g.code} · ${lang() === "en" && g.name_en ? g.name_en : g.name}`))));
  const deadline = h("input.deadline", { value: "3d", size: 6, "aria-label": t("deadline") });
  return h("form.assign", { on: { submit: (ev) => { ev.preventDefault(); decide(li, a, "assign", { agency: pick.value, deadline: deadline.value }, refresh); } } },
    pick, deadline, h("button", { type: "submit" }, t("assign")));
}

export async function render(main, { params, seq }) {
  const listEl = await liveAlerts({ limit: 100, actions: true });
  if (!seq()) return leave();
  const scen = h("section.panel#scenarios", h("h2", t("scenarios")), h("div.loading", t("loading")));
  fill(main, h("div.page-head", h("h1", t("alerts_title")), h("span.live", "● ", t("live"))),
    h("div.alerts-layout", h("section.panel", h("h2", t("alert_list")), listEl), scen));
  const { scenarios } = await get("/api/v1/scenarios");
  if (!seq()) return;
  if (!scenarios.length) return fill(scen, h("h2", t("scenarios")), h("p.empty", t("no_scenarios")));
  const chosen = scenarios.find((s) => s.code === params.get("scenario")) || scenarios.find((s) => s.active) || scenarios[0];
  fill(scen, h("h2", t("scenarios")),
    h("ul.list.inline#scenario-list", scenarios.map((s) => h("li", { class: s.active ? "active" : null },
      h("a", { href: `/alerts?${qs({ scenario: s.code })}` }, (lang() === "en" && s.name_en) || s.name), ` · ${s.active ? t("active") : t("inactive")}`))),
    await scenarioBoard(chosen));
}

/** The board of one scenario: its panels, its checklist (steps with who and when), its timeline (the
 * events of its after-action report) and the simulation form (a replay of a window of history). */
async function scenarioBoard(s) {
  const [one, report] = await Promise.all([get(`/api/v1/scenarios/${encodeURIComponent(s.code)}`),
    get(`/api/v1/scenarios/${encodeURIComponent(s.code)}/report`)]);
  const inds = await indicatorMap();
  const doc = one.document || {};
  const panels = (doc.panels || []).map((p) => h("li", h("b", p.title || ""), " ",
    (p.indicators || []).map((c) => (inds.has(c) ? indName(inds.get(c)) : c)).join(", "), p.orgunit ? ` · ${p.orgunit}` : ""));
  const checklist = (report.checklist || []).map((c) => h("li", `${c.step}. ${c.text}`, c.who ? h("span.meta", ` · ${c.who}`) : null));
  const timeline = (report.timeline || []).slice(-20).reverse().map((e) => {
    const m = e.data && e.data.message;
    return h("li", h("span.meta", `${(e.time || "").replace("T", " ").slice(0, 16)} · ${e.kind}`), m ? m[lang()] || m.vi : "");
  });
  const from = h("input", { name: "from", placeholder: "2025-07" }), to = h("input", { name: "to", placeholder: "2025-10" });
  const out = h("div.sim-out");
  const sim = h("form.edit#simulate-form", h("h3", t("simulate")), h("label", t("from"), from), h("label", t("to"), to),
    h("button", { type: "submit" }, t("run")), out);
  sim.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", `/api/v1/scenarios/${encodeURIComponent(s.code)}/simulate`, { from: from.value, to: to.value });
      fill(out, h("p", `${t("simulated_transitions")}: ${num(r.transitions, 0)} · ${t("simulated_alerts")}: ${num((r.alerts || []).length, 0)}`));
    } catch (e) {
      fill(out, errorBox(e));
    }
  });
  return h("div.scenario#scenario-board", h("h3", `${t("scenario_board")}: ${(lang() === "en" && s.name_en) || s.name}`),
    h("p.meta", `${s.kind} · ${s.active ? t("active") : t("inactive")}`),
    h("h3", t("panels")), h("ul.list", panels.length ? panels : h("li.empty", "—")),
    h("h3", t("checklist")), h("ul.list.checklist", checklist.length ? checklist : h("li.empty", "—")),
    h("h3", t("timeline")), h("ul.list.timeline", timeline.length ? timeline : h("li.empty", "—")), sim);
}
