// main.js - the dashboard's shell: who is logged in, which pages their role may open (from the server's
// own route table, /api/v1/openapi.json, so that a page appears when its API exists and the role may
// call it), the top bar with the language switch, and the client-side router (history API: /map,
// /indicator/CPI_YOY, /ward/26734...; the server answers index.html for these paths).
import { api, get, setCsrf } from "./api.js";
import { h, fill, errorBox } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { disposeCharts } from "./charts.js";

import * as login from "./pages/login.js";
import * as overview from "./pages/overview.js";
import * as mapPage from "./pages/map.js";
import * as explorer from "./pages/explorer.js";
import * as ward from "./pages/ward.js";
import * as catalog from "./pages/catalog.js";
import * as tasks from "./pages/tasks.js";
import * as alerts from "./pages/alerts.js";
import * as quality from "./pages/quality.js";

// Each page: its path pattern, its nav label, and the API route it needs (method, path) to be shown.
const PAGES = [
  { name: "overview", path: /^\/(overview)?$/, mod: overview, needs: ["GET", "/api/v1/analytics"] },
  { name: "map", path: /^\/map$/, mod: mapPage, needs: ["GET", "/api/v1/rank"] },
  { name: "explorer", path: /^\/indicator(?:\/([^/]+))?$/, mod: explorer, needs: ["GET", "/api/v1/analytics"] },
  { name: "ward", path: /^\/ward(?:\/([^/]+))?$/, mod: ward, needs: ["GET", "/api/v1/rank"], hidden: true },
  { name: "tasks", path: /^\/tasks$/, mod: tasks, needs: ["GET", "/api/v1/tasks"] },
  { name: "alerts", path: /^\/alerts$/, mod: alerts, needs: ["GET", "/api/v1/alerts"] },
  { name: "quality", path: /^\/quality$/, mod: quality, needs: ["GET", "/api/v1/quality/scorecards"] },
  { name: "catalog", path: /^\/catalog$/, mod: catalog, needs: ["GET", "/api/v1/indicators"] },
];

// The permissions of each role (mirror of src/auth: db_auth_allows).
const ROLE_PERMS = {
  public: ["public"],
  analyst: ["public", "read"],
  reporter: ["public", "read", "write_data"],
  leader: ["public", "read", "direct"],
  steward: ["public", "read", "write_data", "write_catalog", "approve"],
  admin: ["public", "read", "write_data", "write_catalog", "admin", "direct", "approve"],
};

export const session = { me: null, routes: new Map() };

/** Whether the logged-in role may call a route of the server (false when the route does not exist). */
export function can(method, path) {
  const perm = session.routes.get(`${method} ${path}`);
  if (!perm) return false;
  return (ROLE_PERMS[session.me ? session.me.role : "public"] || []).includes(perm);
}

async function loadRoutes() {
  const doc = await get("/api/v1/openapi.json");
  for (const [path, ops] of Object.entries(doc.paths || {}))
    for (const [method, op] of Object.entries(ops)) session.routes.set(`${method.toUpperCase()} ${path}`, op["x-permission"]);
}

/** Opens a page of the dashboard without reloading. */
export function navigate(path) {
  history.pushState(null, "", path);
  render();
}

function topBar(current) {
  const me = session.me;
  const nav = PAGES.filter((p) => !p.hidden && can(...p.needs)).map((p) => {
    const href = p.name === "overview" ? "/" : p.name === "explorer" ? "/indicator" : `/${p.name}`;
    return h("a", { href, class: p.name === current ? "active" : null, dataset: { page: p.name } }, t(`nav_${p.name}`));
  });
  const langBtn = h("button.lang", { type: "button", title: t("switch_language"), on: { click: () => { setLang(lang() === "vi" ? "en" : "vi"); render(); } } },
    lang() === "vi" ? "EN" : "VI");
  const logout = h("button", { type: "button", on: { click: doLogout } }, t("logout"));
  return h("header.top", h("div.brand", h("span.logo", "◆"), t("app_title")), h("nav", nav),
    h("div.who", h("span.user", `${me.name} · ${t(`role_${me.role}`)}`), langBtn, logout));
}

async function doLogout() {
  try { await api("POST", "/api/v1/logout"); } catch (e) { /* the session is gone either way */ }
  session.me = null;
  setCsrf("");
  navigate("/login");
}

let renderSeq = 0;

/** Draws the page of the current location. */
export async function render() {
  const seq = ++renderSeq;
  disposeCharts();
  alerts.leave();
  document.documentElement.lang = lang();
  document.title = t("app_title");
  const root = document.getElementById("app");
  const path = location.pathname.replace(/\/+$/, "") || "/";
  if (!session.me || session.me.role === "public") {
    if (path !== "/login") history.replaceState(null, "", "/login");
    fill(root, login.render({ onLogin }));
    return;
  }
  if (path === "/login") {
    history.replaceState(null, "", "/");
    return render();
  }
  const page = PAGES.find((p) => p.path.test(path)) || PAGES[0];
  const arg = decodeURIComponent((page.path.exec(path) || [])[1] || "");
  const main = h("main#page", { dataset: { page: page.name } });
  fill(root, topBar(page.name), main);
  try {
    await page.mod.render(main, { arg, params: new URLSearchParams(location.search), seq: () => seq === renderSeq });
    if (seq === renderSeq) main.dataset.ready = "true";
  } catch (e) {
    if (seq === renderSeq) main.append(errorBox(e));
    if (e.status === 401) { session.me = null; render(); }
  }
}

async function onLogin(me) {
  session.me = me;
  setCsrf(me.csrf);
  render();
}

// Links inside the app navigate without reloading.
document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[href^='/']");
  if (!a || a.target || a.hasAttribute("download") || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
  if (a.getAttribute("href").startsWith("/api/")) return;
  ev.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", render);

async function start() {
  await loadRoutes();
  const me = await get("/api/v1/me");
  if (me.role !== "public") {
    session.me = me;
    setCsrf(me.csrf);
  }
  render();
}

start().catch((e) => fill(document.getElementById("app"), errorBox(e)));
