// tasks.js - the tasks board: the statistics per agency (on-time rate, overdue count, average delay), the
// tasks in columns by state with the overdue ones highlighted, an agency filter, and a task's detail with
// its progress history (GET /api/v1/tasks/{id} and /reports).
import { get, qs } from "../api.js";
import { h, fill, select } from "../dom.js";
import { lang, t } from "../i18n.js";
import { num } from "../fmt.js";
import { navigate } from "../main.js";

const STATES = ["new", "in_progress", "overdue", "done_on_time", "done_late", "cancelled"];

/** The overdue tasks, most late first (the overview's panel). */
export async function overdueList(limit = 8) {
  const d = await get(`/api/v1/tasks?${qs({ overdue: "true" })}`);
  const list = d.tasks.sort((a, b) => b.days_late - a.days_late).slice(0, limit);
  if (!list.length) return h("p.empty", t("no_overdue_tasks"));
  return h("ul.list#overdue-tasks", list.map(taskLine));
}

function taskLine(k) {
  return h("li.bad", { dataset: { id: k.id } }, h("a", { href: `/tasks?task=${k.id}` }, k.title),
    h("span.meta", `${k.lead} · ${t("deadline")} ${k.due} · ${t("days_late", { n: k.days_late })}`));
}

export async function render(main, { params, seq }) {
  const agency = params.get("agency") || "";
  const [stats, list, agencies] = await Promise.all([get("/api/v1/tasks/stats"), get(`/api/v1/tasks?${qs({ agency })}`), get("/api/v1/agencies")]);
  if (!seq()) return;
  const name = (g) => (lang() === "en" && g.name_en) || g.name;
  const picker = select([["", t("all_agencies")], ...agencies.agencies.map((g) => [g.code, `${g.code} · ${name(g)}`])], agency,
    (a) => navigate(`/tasks?${qs({ agency: a })}`), { id: "task-agency" });
  const detail = h("aside.panel#task-detail", h("p.empty", t("task_pick")));
  // counts from the board itself; the rates from the statistics (which count each occurrence of a
  // recurring task), of the chosen agency when there is one
  const total = (agency && stats.rows.find((r) => r.key === agency)) || stats.total;
  const count = (states) => list.tasks.filter((k) => states.includes(k.state)).length;
  fill(main,
    h("div.page-head", h("h1", t("tasks_title")), h("label.inline", t("agency"), picker)),
    h("div.kpis",
      kpi(t("tasks_total"), num(list.tasks.length, 0)), kpi(t("tasks_open"), num(count(["new", "in_progress", "overdue"]), 0)),
      kpi(t("state_overdue"), num(count(["overdue"]), 0), count(["overdue"]) ? "bad" : "good"),
      kpi(t("ontime_rate"), total.ontime_pct === null ? "—" : `${num(total.ontime_pct, 1)} %`),
      kpi(t("avg_delay"), total.avg_delay === null ? "—" : `${num(total.avg_delay, 1)} ${t("days")}`)),
    h("div.tasks-layout",
      h("section.board#task-board", STATES.map((s) => {
        const items = list.tasks.filter((k) => k.state === s);
        return h(`div.column.col-${s}`, { dataset: { state: s } }, h("h2", `${t("state_" + s)} (${items.length})`),
          items.map((k) => h(`a.card${k.overdue ? ".overdue" : ""}`, { href: `/tasks?${qs({ agency, task: k.id })}`, dataset: { id: k.id } },
            h("div.card-title", k.title), h("div.meta", `${k.lead} · ${t("deadline")} ${k.due}`),
            h("div.progress", h("span.fill", { dataset: { percent: k.percent } })))));
      })),
      detail),
    h("section.panel", h("h2", t("tasks_by_agency")), h("table.data#task-stats",
      h("thead", h("tr", [t("rank"), t("agency"), t("tasks_total"), t("tasks_open"), t("state_overdue"), t("ontime_rate"), t("avg_delay")].map((c) => h("th", c)))),
      h("tbody", stats.rows.map((r) => h("tr", h("td.num", String(r.rank)), h("td", `${r.key} · ${r.name}`), h("td.num", num(r.items, 0)),
        h("td.num", num(r.open, 0)), h(`td.num${r.overdue ? ".bad" : ""}`, num(r.overdue, 0)),
        h("td.num", r.ontime_pct === null ? "—" : `${num(r.ontime_pct, 1)} %`), h("td.num", r.avg_delay === null ? "—" : num(r.avg_delay, 1))))))));
  for (const f of main.querySelectorAll(".progress .fill")) f.style.width = `${Number(f.dataset.percent) || 0}%`;
  const id = params.get("task");
  if (id) fill(detail, await taskDetail(id));
}

function kpi(label, value, cls = "") {
  return h(`div.kpi${cls ? "." + cls : ""}`, h("div.kpi-value", value), h("div.kpi-label", label));
}

async function taskDetail(id) {
  const [k, reports] = await Promise.all([get(`/api/v1/tasks/${encodeURIComponent(id)}`), get(`/api/v1/tasks/${encodeURIComponent(id)}/reports`)]);
  const list = reports.reports || [];
  return [h("h2", k.title), h("p", k.description || ""),
    h("dl",
      h("dt", t("state")), h("dd", { class: k.overdue ? "bad" : null }, t("state_" + k.state, null, k.state)),
      h("dt", t("lead_agency")), h("dd", k.lead), k.co_agencies.length ? [h("dt", t("co_agencies")), h("dd", k.co_agencies.join(", "))] : null,
      h("dt", t("deadline")), h("dd", k.due), h("dt", t("priority")), h("dd", t("priority_" + k.priority, null, k.priority)),
      h("dt", t("progress")), h("dd", `${num(k.percent, 0)} %`), k.directive ? [h("dt", t("directive")), h("dd", k.directive)] : null),
    h("h3", t("progress_history")),
    list.length ? h("ul.list#task-reports", list.map((r) => h("li", h("span.meta", `${(r.time || r.at || "").replace("T", " ").slice(0, 16)} · ${r.by || ""}`),
      `${num(r.percent, 0)} % · ${r.text || ""}`))) : h("p.empty", t("no_reports"))];
}
