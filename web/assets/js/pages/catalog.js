// catalog.js - the indicator catalog: search, the metadata of each indicator, its targets and the rules
// that read it (alert rules and data validation rules); stewards and admins (the roles that may PUT
// /api/v1/indicators/{code}, POST /api/v1/targets and the rules) also edit an indicator's descriptive
// fields, add or change targets, and add or replace rules as JSON. A refused edit shows every problem the
// server listed, with its JSON path; nothing is half-saved (the server applies all or nothing).
import { api, get } from "../api.js";
import { h, fill, select, errorBox } from "../dom.js";
import { t } from "../i18n.js";
import { num, indName } from "../fmt.js";
import { indicators, catalogChanged } from "../data.js";
import { can, navigate } from "../main.js";

const EDITABLE = ["name", "name_en", "description", "unit", "decimals", "polarity", "groups", "is_public"];

export async function render(main, { params, seq }) {
  const all = await indicators();
  const q = (params.get("q") || "").toLowerCase();
  const code = params.get("code");
  const list = all.filter((i) => !q || `${i.code} ${i.name} ${i.name_en || ""}`.toLowerCase().includes(q));
  const search = h("input#catalog-search", { type: "search", placeholder: t("search"), value: params.get("q") || "" });
  search.addEventListener("change", () => navigate(`/catalog?q=${encodeURIComponent(search.value)}`));
  const detail = h("section.panel.catalog-detail#catalog-detail");
  fill(main, h("div.page-head", h("h1", t("catalog_title")), search, h("span.meta", `${list.length}/${all.length}`)),
    h("div.catalog-layout",
      h("section.panel", h("table.data#catalog-table",
        h("thead", h("tr", [t("code"), t("indicator"), t("unit"), t("periodicity"), t("owner")].map((c) => h("th", c)))),
        h("tbody", list.map((i) => h("tr", { class: i.code === code ? "selected" : null, dataset: { code: i.code } },
          h("td", h("a", { href: `/catalog?code=${encodeURIComponent(i.code)}&q=${encodeURIComponent(q)}` }, i.code)),
          h("td", indName(i)), h("td", i.unit), h("td", t(`per_${i.periodicity}`, null, i.periodicity)), h("td", i.owner)))))),
      detail));
  if (!code) return fill(detail, h("p.empty", t("catalog_pick")));
  const ind = await get(`/api/v1/indicators/${encodeURIComponent(code)}`);
  if (!seq()) return;
  fill(detail, h("h2", `${ind.code} · ${indName(ind)}`), h("p", ind.description || ""),
    h("p", h("a", { href: `/indicator/${encodeURIComponent(ind.code)}` }, t("open_explorer"))),
    targetsTable(ind),
    can("PUT", "/api/v1/indicators/{code}") ? editForm(ind) : null,
    can("POST", "/api/v1/targets") ? targetForm(ind) : null,
    await rulesPanel(ind));
}

/* Where each kind of rule lives, and what a new one looks like for an indicator. */
const RULE_KINDS = {
  alert: { path: "/api/v1/rules", text: (r) => r.condition, wrap: (r) => r,
    template: (code) => ({ code: `${code}_HIGH`, name: "", condition: `${code} > 0`, severity: "warning", for: 1,
      children_of: "79" }) },
  check: { path: "/api/v1/quality/rules", text: (r) => r.formula, wrap: (r) => [r],
    template: (code) => ({ code: `${code}_CHECK`, name: "", formula: `${code} >= 0`, tolerance: 0, importance: "warning" }) },
};

/** The alert and validation rules whose formula reads the indicator, and (stewards) a JSON editor that adds
 * or replaces a rule by its code. */
async function rulesPanel(ind) {
  const kinds = Object.keys(RULE_KINDS).filter((k) => can("GET", RULE_KINDS[k].path));
  if (!kinds.length) return null;
  const reads = new RegExp(`\\b${ind.code}\\b`);
  const lists = await Promise.all(kinds.map((k) => get(RULE_KINDS[k].path).then((b) => b.rules || [], () => [])));
  const rows = kinds.flatMap((k, i) => lists[i].filter((r) => reads.test(RULE_KINDS[k].text(r) || ""))
    .map((r) => h("tr", h("td", t(`rule_kind_${k}`)), h("td", r.code), h("td", r.name || ""), h("td", h("code", RULE_KINDS[k].text(r))))));
  const table = rows.length ? h("table.data#rules-table", h("thead", h("tr", [t("kind"), t("code"), t("rule_name"), t("rule_condition")].map((c) => h("th", c)))),
    h("tbody", rows)) : h("p.empty", t("no_rules"));
  const editable = kinds.filter((k) => can("POST", RULE_KINDS[k].path));
  return h("div", h("h3", t("rules_title")), table, editable.length ? ruleForm(ind, editable) : null);
}

function ruleForm(ind, kinds) {
  const text = h("textarea", { name: "rule", rows: 8, spellcheck: "false" });
  const kind = select(kinds.map((k) => [k, t(`rule_kind_${k}`)]), kinds[0], (k) => { text.value = JSON.stringify(RULE_KINDS[k].template(ind.code), null, 2); });
  kind.name = "kind";
  text.value = JSON.stringify(RULE_KINDS[kinds[0]].template(ind.code), null, 2);
  const msg = h("div.msg", { role: "status" });
  const form = h("form.edit#rule-form", h("h3", t("edit_rule")), h("label", t("kind"), kind), h("label", "JSON", text),
    h("button", { type: "submit" }, t("save")), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const k = kind.value;
    let rule;
    try {
      rule = JSON.parse(text.value);
    } catch (e) {
      return fill(msg, h("div.error", `JSON: ${e.message}`));
    }
    try {
      await api("POST", RULE_KINDS[k].path, RULE_KINDS[k].wrap(rule));
      navigate(location.pathname + location.search);
    } catch (e) {
      fill(msg, errorBox(e));
    }
  });
  return form;
}

function targetsTable(ind) {
  if (!ind.targets.length) return h("p.empty", t("no_targets"));
  return h("table.data#targets-table", h("thead", h("tr", [t("orgunit"), t("period"), t("kind"), t("value"), t("source")].map((c) => h("th", c)))),
    h("tbody", ind.targets.map((x) => h("tr", h("td", x.orgunit), h("td", x.period), h("td", t("kind_" + x.kind, null, x.kind)),
      h("td.num", num(x.value, ind.decimals)), h("td", x.source || "")))));
}

/** The steward's form: the descriptive fields of the indicator, saved with PUT (the whole object). */
function editForm(ind) {
  const inputs = {};
  const field = (k) => {
    let input;
    if (k === "polarity") input = select(["higher", "lower", "neutral"].map((p) => [p, t(`polarity_${p}`)]), ind.polarity);
    else if (k === "is_public") input = select([["true", t("yes")], ["false", t("no")]], String(ind.is_public));
    else if (k === "description") input = h("textarea", { rows: 3 }, ind.description || "");
    else input = h("input", { value: ind[k] === undefined ? "" : String(ind[k]), type: k === "decimals" ? "number" : "text" });
    input.name = k;
    inputs[k] = input;
    return h("label", t(`field_${k}`), input);
  };
  const msg = h("div.msg", { role: "status" });
  const form = h("form.edit#indicator-form", h("h3", t("edit_indicator")), EDITABLE.map(field),
    h("button", { type: "submit" }, t("save")), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { ...ind };
    delete body.targets;
    for (const k of EDITABLE) {
      const v = inputs[k].value;
      body[k] = k === "decimals" ? Number(v) : k === "is_public" ? v === "true" : v;
    }
    try {
      await api("PUT", `/api/v1/indicators/${encodeURIComponent(ind.code)}`, body);
      catalogChanged();
      fill(msg, h("span.ok", t("saved")));
    } catch (e) {
      fill(msg, errorBox(e));
    }
  });
  return form;
}

/** Adds or changes one target of the indicator (POST /api/v1/targets, all or nothing). */
function targetForm(ind) {
  const ou = h("input", { name: "orgunit", value: "79" }), period = h("input", { name: "period", placeholder: "2025" });
  const kind = select([["plan", t("kind_plan")], ["threshold", t("kind_threshold")]], "plan");
  const value = h("input", { name: "value", type: "number", step: "any" }), source = h("input", { name: "source" });
  const msg = h("div.msg", { role: "status" });
  const form = h("form.edit#target-form", h("h3", t("add_target")),
    h("label", t("orgunit"), ou), h("label", t("period"), period), h("label", t("kind"), kind),
    h("label", t("value"), value), h("label", t("source"), source), h("button", { type: "submit" }, t("save")), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const target = { indicator: ind.code, orgunit: ou.value, period: period.value, kind: kind.value, value: value.value === "" ? null : Number(value.value) };
    if (source.value) target.source = source.value;
    try {
      await api("POST", "/api/v1/targets", [target]);
      catalogChanged();
      navigate(location.pathname + location.search);
    } catch (e) {
      fill(msg, errorBox(e));
    }
  });
  return form;
}
