// dashboard.test.mjs - the dashboard in headless chromium against the real server on the demo city:
// every role logs in through the form and visits every page its navigation offers, on the 1920x1080
// wall and the 1366x768 laptop, with no console error and no request outside the server; the pages show
// the demo city's real content (the 168 units on the map, a known ward's name, a KPI tile with exactly
// the value the API answers); downloads, the language switch and a steward's edits work.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { makeStore, startServer, launch, openPage, login, screenshot, cleanup, token, call, SIZES, HAS_PACK } from "./harness.mjs";

let env, server, browser, admin;

// What the demo city does not have yet and the pages show: an alert rule, a scenario, a reporting
// obligation, and a task (assigned from an alert).
const RULE = { code: "ACCIDENTS_HIGH", name: "Nhiều tai nạn giao thông", condition: "TRAFFIC_ACCIDENTS > 50", value: "TRAFFIC_ACCIDENTS",
  severity: "critical", for: 1, children_of: "79", message: { vi: "{unit_name}: {value} vụ tai nạn", en: "{unit_name}: {value} accidents" } };
const SCENARIO = { code: "TRAFFIC_SAFETY", name: "An toàn giao thông", name_en: "Traffic safety", kind: "thematic",
  panels: [{ title: "Tai nạn giao thông", view: "map", orgunit: "79", indicators: ["TRAFFIC_ACCIDENTS"] }],
  rules: [{ code: "ACCIDENTS_SPIKE", name: "Tai nạn tăng", condition: "TRAFFIC_ACCIDENTS > 60", value: "TRAFFIC_ACCIDENTS", severity: "warning", for: 1, children_of: "79" }],
  checklist: [{ step: "Họp ban an toàn giao thông", who: "POLICE", when: "1h" }] };
const OBLIGATION = { code: "WARD_PANEL", name: "Ward panel", agency: "DOST", indicators: ["SCHOOLS", "CLINICS"], orgunit: "79",
  children: true, deadline: "5 working days", from: "2025-07" };
// A ward and a period of the demo city's ward panel (the real pack: Bến Thành; the synthetic city: its first ward).
const WARD = HAS_PACK ? "26743" : null;

async function must(p, status) {
  const r = await p;
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r.body;
}

before(async () => {
  env = makeStore();
  server = await startServer(env.store);
  browser = await launch();
  admin = token(env.store, "admin");
  await must(call(server.base, admin, "POST", "/api/v1/rules", RULE), 201);
  await must(call(server.base, admin, "POST", "/api/v1/scenarios", SCENARIO), 201);
  await must(call(server.base, admin, "POST", "/api/v1/quality/obligations", [OBLIGATION]), 200);
});

after(async () => {
  if (browser) await browser.close();
  if (server) assert.equal(await server.stop(), 0, "the server exits cleanly");
  if (env) cleanup(env.dir);
});

/** Runs body(page) on a fresh page of `size` logged in as `role` and opened at `path`, then checks that
 * the console had no error other than those `expected` matches (a refused request shows as one). */
async function as(role, path, body, { size = SIZES.wall, expected = [] } = {}) {
  const { context, page, problems } = await openPage(browser, server.base, size);
  try {
    await login(page, server.base, role);
    if (path) await visit(page, path);
    await body(page);
    assert.equal(problems.length, expected.length, problems.join("\n"));
    expected.forEach((re, i) => assert.match(problems[i], re));
  } finally {
    await context.close();
  }
}

/** Opens a path of the dashboard and waits until its page has rendered. */
async function visit(page, path) {
  await page.goto(`${server.base}${path}`);
  await page.waitForSelector("main#page[data-ready]", { state: "attached", timeout: 30000 });
}

const ALL_PAGES = ["overview", "map", "explorer", "tasks", "alerts", "quality", "catalog"];
const ROLE_PAGES = { admin: ALL_PAGES, steward: ALL_PAGES, leader: ALL_PAGES, reporter: ALL_PAGES, analyst: ALL_PAGES };

for (const [role, expected] of Object.entries(ROLE_PAGES)) {
  test(`${role}: every page of the navigation, wall and laptop, without console errors`, async () => {
    for (const [sizeName, size] of Object.entries(SIZES)) {
      await as(role, null, async (page) => {
        const nav = await page.$$eval("header.top nav a", (links) => links.map((a) => [a.dataset.page, a.getAttribute("href")]));
        assert.deepEqual(nav.map(([p]) => p), expected);
        for (const [name, href] of nav) {
          await visit(page, href);
          assert.equal(await page.getAttribute("main#page", "data-page"), name);
          assert.equal(await page.locator("main .error").count(), 0, `${role} ${name}: no error box`);
          await screenshot(page, `${role}-${name}-${sizeName}`);
        }
        await visit(page, HAS_PACK ? "/ward/26743" : "/map");
        await screenshot(page, `${role}-ward-${sizeName}`);
      }, { size });
    }
  });
}

test("the map draws the city's units from the store's GeoJSON, with values and ranks", async () => {
  await as("leader", "/map", async (page) => {
    const regions = await page.evaluate(() => {
      const chart = window.echarts.getInstanceByDom(document.getElementById("map"));
      return chart.getModel().getSeriesByIndex(0).coordinateSystem.regions.length;
    });
    const geo = await (await page.request.get(`${server.base}/api/v1/orgunits/geojson?parent=79&valid_on=${new Date().toISOString().slice(0, 10)}`)).json();
    assert.equal(regions, geo.features.length);
    if (HAS_PACK) assert.equal(regions, 168);
    const period = await page.inputValue("#map-period");
    const rank = await (await page.request.get(`${server.base}/api/v1/rank?indicator=WARD_DEV_INDEX&period=${period}&children_of=79`)).json();
    const first = await page.locator("#rank-top li").first().locator("a").textContent();
    assert.equal(first, rank.units[0].name);
  });
});

test("a KPI tile shows exactly the value the API answers", async () => {
  await as("leader", "/?group=plan2025", async (page) => {
    const tile = page.locator('.tile[data-indicator="RETAIL_SALES"]');
    const { unit, period, value } = await tile.evaluate((el) => ({ ...el.dataset }));
    const api = await (await page.request.get(`${server.base}/api/v1/analytics?indicator=RETAIL_SALES&orgunit=${unit}&from=${period}&to=${period}`)).json();
    assert.equal(api.rows.length, 1);
    assert.equal(Number(value), api.rows[0].value);
    const shown = await tile.locator(".value").textContent();
    const expected = new Intl.NumberFormat("vi-VN", { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(api.rows[0].value);
    assert.equal(shown, expected);
  });
});

test("a ward's page names it and ranks it among the city's units", { skip: !HAS_PACK && "needs the data pack" }, async () => {
  await as("analyst", "/ward/26743", async (page) => {
    assert.equal(await page.textContent("#ward-name"), "Phường Bến Thành");
    const rank = await page.locator('#ward-table tr[data-indicator="POPULATION"] .rank').textContent();
    assert.match(rank, /^\d+\/168$/);
    await page.click("header.top button.lang");
    await page.waitForSelector("main#page[data-ready]", { state: "attached" });
    assert.equal(await page.textContent('header.top nav a[data-page="map"]'), "Map");
    assert.equal(await page.textContent("#ward-name"), "Ben Thanh Ward");
    await page.click("header.top button.lang");
  });
});

test("the indicator explorer downloads its grid as CSV and XLSX", async () => {
  await as("analyst", "/indicator/RETAIL_SALES?unit=VN", async (page) => {
    const rows = await page.locator("#explorer-table tbody tr").count();
    assert.ok(rows > 12, `a table of periods (${rows})`);
    const fc = await must(call(server.base, admin, "GET", "/api/v1/forecast/RETAIL_SALES/VN?h=12"), 200);
    assert.match(await page.textContent("#forecast-facts"), new RegExp(fc.model.replace(/[()]/g, ".")));
    const drawn = await page.evaluate(() => window.echarts.getInstanceByDom(document.getElementById("explorer-chart")).getOption().series.map((x) => x.name));
    assert.ok(drawn.includes("Dự báo") && drawn.includes("Khoảng tin cậy 95%"), drawn.join());
    for (const [id, check] of [["#download-csv", (b) => assert.match(b.toString("utf8"), /^indicator,orgunit,period,value,yoy_pct/)],
      ["#download-xlsx", (b) => assert.equal(b.subarray(0, 2).toString("latin1"), "PK")]]) {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click(id)]);
      const chunks = [];
      for await (const c of await download.createReadStream()) chunks.push(c);
      check(Buffer.concat(chunks));
    }
    await page.click('.tabs button[data-view="ytd"]');
    await page.waitForSelector("main#page[data-ready]", { state: "attached" });
    assert.match(page.url(), /view=ytd/);
  });
});

test("a steward edits an indicator and a target; a bad target is refused with its problem listed", async () => {
  await as("steward", "/catalog?code=EXPORTS", async (page) => {
    await page.fill('#indicator-form input[name="name_en"]', "Merchandise exports (edited)");
    await page.click("#indicator-form button[type=submit]");
    await page.waitForSelector("#indicator-form .ok");
    const ind = await (await page.request.get(`${server.base}/api/v1/indicators/EXPORTS`)).json();
    assert.equal(ind.name_en, "Merchandise exports (edited)");
    await page.fill('#target-form input[name="period"]', "2025-13");
    await page.fill('#target-form input[name="value"]', "100");
    await page.click("#target-form button[type=submit]");
    const error = await page.locator("#target-form .error").textContent();
    assert.match(error, /period/);
  }, { expected: [/status of 400/] });
});

test("a steward adds an alert rule on an indicator from the catalog; a rule naming an unknown indicator is refused",
  async () => {
    await as("steward", "/catalog?code=EXPORTS", async (page) => {
      const rule = { code: "EXPORTS_LOW", name: "Xuất khẩu thấp", condition: "EXPORTS < 1", severity: "warning", for: 1,
        units: ["79"] };
      await page.selectOption('#rule-form select[name="kind"]', "alert");
      await page.fill('#rule-form textarea[name="rule"]', JSON.stringify(rule));
      await page.click("#rule-form button[type=submit]");
      await page.waitForSelector('#rules-table td:text-is("EXPORTS_LOW")');
      const stored = await (await page.request.get(`${server.base}/api/v1/rules/EXPORTS_LOW`)).json();
      assert.equal(stored.condition, "EXPORTS < 1");
      await page.fill('#rule-form textarea[name="rule"]', JSON.stringify({ ...rule, code: "BAD", condition: "NOPE > 1" }));
      await page.click("#rule-form button[type=submit]");
      assert.match(await page.locator("#rule-form .error").textContent(), /NOPE/);
      assert.equal((await page.request.get(`${server.base}/api/v1/rules/BAD`)).status(), 404);
    }, { expected: [/status of 400/] });
  });

test("an analyst sees no editing forms in the catalog", async () => {
  await as("analyst", "/catalog?code=EXPORTS", async (page) => {
    assert.equal(await page.locator("#indicator-form").count(), 0);
    assert.equal(await page.locator("#target-form").count(), 0);
    assert.equal(await page.locator("#rule-form").count(), 0);
    const all = (await (await page.request.get(`${server.base}/api/v1/indicators`)).json()).indicators;
    assert.equal(await page.locator("#catalog-table tbody tr").count(), all.length);
  });
});

test("an observation that breaks a rule shows its alert on the open dashboard within 2 seconds, without a reload",
  { skip: !WARD && "needs the data pack" }, async () => {
    await as("leader", "/alerts", async (page) => {
      const before = await page.evaluate(() => performance.getEntriesByType("navigation").length + location.href);
      const firing = `#alert-list li[data-rule="ACCIDENTS_HIGH"][data-unit="${WARD}"][data-state="firing"]`;
      const message = "Phường Bến Thành: 99 vụ tai nạn";
      assert.equal(await page.locator(firing).count(), 0);
      const series = await must(call(server.base, admin, "GET", `/api/v1/series/TRAFFIC_ACCIDENTS/${WARD}`), 200);
      const period = series.observations[series.observations.length - 1].period;
      await must(call(server.base, admin, "POST", "/api/v1/data", `indicator,orgunit,period,value\nTRAFFIC_ACCIDENTS,${WARD},${period},99\n`, "text/csv"), 201);
      const t0 = Date.now();
      await page.waitForSelector(firing, { timeout: 2000 });
      assert.ok(Date.now() - t0 <= 2000);
      assert.equal(await page.evaluate(() => performance.getEntriesByType("navigation").length + location.href), before, "no reload");
      assert.equal(await page.locator(firing).locator(".alert-msg").textContent(), message);
      await screenshot(page, "leader-alerts-live-wall");

      // the leader acknowledges it, then assigns it to the police: a task appears on the tasks board
      await page.locator(firing).locator("button.ack").click();
      await page.waitForSelector(`${firing} >> text=đã xác nhận: leader`);
      await page.locator(firing).locator("select.agency").selectOption("POLICE");
      await page.locator(firing).locator("form.assign button").click();
      await page.waitForSelector(`${firing} >> text=giao cho POLICE`);
      await visit(page, "/tasks?agency=POLICE");
      const card = page.locator("#task-board .card", { hasText: message });
      assert.equal(await card.count(), 1);
      await card.click();
      await page.waitForSelector("#task-detail h2");
      assert.equal(await page.textContent("#task-detail h2"), message);
      await screenshot(page, "leader-tasks-detail-wall");

      // and the ward's page lists both
      await visit(page, `/ward/${WARD}`);
      assert.match(await page.textContent("#ward-alerts"), new RegExp(message));
      assert.match(await page.textContent("#ward-tasks"), new RegExp(message));
    });
  });

test("the scenario board shows the scenario's panels and checklist, and simulates it on history", async () => {
  await as("admin", "/alerts", async (page) => {
    await page.click('#scenario-list a:text("An toàn giao thông")');
    await page.waitForURL(/scenario=TRAFFIC_SAFETY/);
    await page.waitForSelector("main#page[data-ready]", { state: "attached" });
    await page.waitForSelector("#scenario-board");
    assert.match(await page.textContent("#scenario-board"), /Họp ban an toàn giao thông/);
    assert.match(await page.textContent("#scenario-board"), /Tai nạn giao thông/);
    await page.fill('#simulate-form input[name="from"]', "2025-07");
    await page.fill('#simulate-form input[name="to"]', "2025-10");
    await page.click("#simulate-form button");
    const out = await page.locator("#simulate-form .sim-out p").textContent();
    const api = await must(call(server.base, admin, "POST", "/api/v1/scenarios/TRAFFIC_SAFETY/simulate", { from: "2025-07", to: "2025-10" }), 200);
    assert.equal(out, `Chuyển trạng thái: ${api.transitions} · cảnh báo: ${api.alerts.length}`);
  });
});

test("the data quality page shows the agencies' scorecards as the API computes them", async () => {
  await as("analyst", "/quality", async (page) => {
    const period = await page.inputValue("#quality-period");
    const cards = await must(call(server.base, admin, "GET", `/api/v1/quality/scorecards?period=${period}`), 200);
    const row = page.locator('#scorecards tr[data-agency="DOST"]');
    const score = cards.agencies.find((a) => a.agency === "DOST").score;
    assert.equal(await row.locator("td").last().textContent(), new Intl.NumberFormat("vi-VN", { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(score));
    const cells = await page.evaluate(() => window.echarts.getInstanceByDom(document.getElementById("heat-completeness")).getOption().series[0].data.length);
    assert.ok(cells > 0);
  });
});
