// harness.mjs - what the browser tests share: a demo store (the real data pack beside the repository
// when it is there, else the synthetic city), the real `databrain serve` on a free port of 127.0.0.1,
// one login per role, Debian's chromium driven headless by playwright-core, console-error capture and
// screenshots under tests/browser/screenshots/.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.DATABRAIN_BIN || path.join(here, "../../build/databrain");
export const PACK = path.join(process.env.DB_SHARED_DIR || path.join(here, "../../../shared"), "data");
export const HAS_PACK = existsSync(path.join(PACK, "README.md"));
export const SHOTS = path.join(here, "screenshots");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export const USERS = {
  admin: { role: "admin", password: "browser-admin-2025" },
  steward: { role: "steward", password: "browser-steward-2025", args: ["--agency", "STATS"] },
  leader: { role: "leader", password: "browser-leader-2025", args: ["--agency", "PC79"] },
  reporter: { role: "reporter", password: "browser-reporter-2025", args: ["--agency", "DAE", "--scope", "79"] },
  analyst: { role: "analyst", password: "browser-analyst-2025" },
};

export const SIZES = { wall: { width: 1920, height: 1080 }, laptop: { width: 1366, height: 768 } };

function cli(store, ...args) {
  return execFileSync(BIN, ["--store", `sqlite:${store}`, "-q", ...args.filter((a) => typeof a === "string")],
    { input: args.find((a) => typeof a === "object")?.input, encoding: "utf8", timeout: 600000 });
}

/** A fresh store with the demo city and one user per role of USERS; returns its path. */
export function makeStore() {
  const dir = mkdtempSync(path.join(tmpdir(), "databrain-browser-"));
  const store = path.join(dir, "store.db");
  cli(store, "init");
  if (HAS_PACK) cli(store, "demo", "--pack", PACK);
  else cli(store, "demo");
  for (const [name, u] of Object.entries(USERS)) cli(store, "user", "add", name, "--role", u.role, ...(u.args || []), { input: `${u.password}\n` });
  return { store, dir };
}

/** An API token of a role, made with the CLI. */
export function token(store, role) {
  return cli(store, "token", "create", "--role", role).trim();
}

/** Calls the API with a bearer token; resolves to {status, body} (body parsed when JSON). */
export async function call(base, tok, method, path, body, type = "application/json") {
  const res = await fetch(base + path, { method, headers: { Authorization: `Bearer ${tok}`, "Content-Type": type },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* CSV or empty */ }
  return { status: res.status, body: parsed };
}

/** Starts `databrain serve` on the store; resolves to {base, stop()} once it listens. */
export function startServer(store) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ["--store", `sqlite:${store}`, "serve", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    const timer = setTimeout(() => { proc.kill("SIGKILL"); reject(new Error(`the server did not start: ${err}`)); }, 60000);
    proc.stderr.on("data", (d) => { err += d; });
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          base: m[1],
          log: () => err,
          stop: () => new Promise((done) => { proc.once("exit", (code) => done(code)); proc.kill("SIGTERM"); }),
        });
      }
    });
    proc.once("exit", (code) => { clearTimeout(timer); reject(new Error(`the server exited (${code}): ${err}`)); });
  });
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/** A page of a new browser context of the given size, collecting console errors, page errors and every
 * request that left the server (none may). */
export async function openPage(browser, base, size = SIZES.wall) {
  const context = await browser.newContext({ viewport: size, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  const origin = new URL(base).origin;
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) problems.push(`outside request: ${r.url()}`); });
  return { context, page, problems };
}

/** Logs in through the dashboard's own form and waits for the navigation bar. */
export async function login(page, base, name) {
  await page.goto(`${base}/login`);
  await page.fill("#login-name", name);
  await page.fill("#login-password", USERS[name].password);
  await page.click("#login-submit");
  await page.waitForSelector("header.top nav a");
}

/** Saves a screenshot of the page as screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

export function cleanup(dir) { rmSync(dir, { recursive: true, force: true }); }
