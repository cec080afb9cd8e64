// The dashboard at 1,000 endpoints, in headless Chromium: time from navigation until the first page
// of rows is drawn under the counts of all (beside a static page with the same rows, the floor),
// then the longest main-thread task while the cloud restarts and all 1,000 links drop and come back
// (thousands of state changes). Also the memory of the history buffers at 1,000 endpoints after an
// hour of fake time. `dashboardAt` is shared with the scale section, which runs it at 10,000.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { kib, median, ms, spawnCloud, spawnServer } from "./lib.mjs";

export const executablePath = "/usr/bin/chromium";
const n = 1000;
const rounds = 3;
/** The dashboard's rows per page. */
const pageRows = 100;

async function startServer(config, n) {
  const server = spawnServer(config);
  const { url, line } = await server.ready;
  const connected = Number(/endpoints (\d+)\/(\d+) connected/.exec(line)?.[1]);
  if (connected !== n) throw new Error(`${connected}/${n} connected at the ready line`);
  return { url, stop: server.stop };
}

/**
 * In the page: the time (ms since navigation) of the first frame after `count` rows exist and, on
 * the dashboard, the header counts `total` endpoints.
 */
const watchRows = (count, total) => `
  window.__fullAt = new Promise((resolve) => {
    const check = () => {
      const body = document.getElementById("endpoints");
      if (!body || body.childElementCount < ${count}) return false;
      const counted = document.getElementById("endpoint-count");
      if (counted && !counted.textContent.endsWith(" of ${total} connected")) return false;
      requestAnimationFrame(() => resolve(performance.now()));
      return true;
    };
    const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
    observer.observe(document, { subtree: true, childList: true });
  });`;

function staticPage(n) {
  const row = (i) =>
    `<tr data-id="ep-${i}"><td><div>agent ${i}</div><div>ws://127.0.0.1:1/mcp/?token=&lt;masked:abcdef&gt;</div><div>ep-${i}</div></td><td><span>connected</span></td><td>100</td><td>0.4 ms</td><td>up 3 s</td><td></td><td><button>History</button> <button>Reconnect</button> <button>Remove</button></td></tr>`;
  return `<!doctype html><html><body><table><tbody id="endpoints">${Array.from({ length: n }, (_, i) => row(i)).join("")}</tbody></table></body></html>`;
}

async function renderAndStorm(browser, server, cloud, n) {
  const full = [];
  const floor = [];
  const shown = Math.min(n, pageRows);
  for (let round = 0; round < rounds; round++) {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale: "en-US" });
    await page.addInitScript({ content: watchRows(shown, n) });
    await page.goto(server.url);
    full.push(await page.evaluate("window.__fullAt"));
    await page.close();
    // The floor: the same rows as a static page, served without a network.
    const still = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    await still.addInitScript({ content: watchRows(shown, n) });
    await still.route("http://static.invalid/", (route) =>
      route.fulfill({ contentType: "text/html", body: staticPage(shown) }),
    );
    await still.goto("http://static.invalid/");
    floor.push(await still.evaluate("window.__fullAt"));
    await still.close();
  }

  // The storm: the cloud restarts, every link drops, reconnects and comes back.
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale: "en-US" });
  await page.addInitScript({ content: watchRows(shown, n) });
  await page.goto(server.url);
  await page.evaluate("window.__fullAt");
  await page.evaluate(`
    window.__tasks = [];
    window.__changes = 0;
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__tasks.push(e.duration); })
      .observe({ type: "longtask" });
    new MutationObserver((records) => { window.__changes += records.length; })
      .observe(document.getElementById("endpoints"), { subtree: true, attributes: true, attributeFilter: ["data-state"] });`);
  const started = performance.now();
  await cloud.command("restart 0");
  // Every row left "connected" and came back.
  await page.waitForFunction(
    ({ count, total }) =>
      window.__changes >= count &&
      document.getElementById("endpoint-count").textContent === `${total} of ${total} connected` &&
      [...document.querySelectorAll("#endpoints tr[data-id]")].every((r) => r.dataset.state === "connected"),
    { count: shown, total: n },
    { timeout: 180_000, polling: 200 },
  );
  const stormMs = performance.now() - started;
  const { tasks, changes } = await page.evaluate("({ tasks: window.__tasks, changes: window.__changes })");
  // A button still answers at once after the storm.
  const clickStarted = await page.evaluate("performance.now()");
  const answered = await page.evaluate(
    `new Promise((resolve) => { const b = document.querySelector("#endpoints tr[data-id] button[data-action=history]"); b.addEventListener("click", () => requestAnimationFrame(() => resolve(performance.now())), { once: true }); b.click(); })`,
  );
  await page.close();
  return { full, floor, tasks, changes, stormMs, clickMs: answered - clickStarted };
}

/** The history buffers of 1,000 endpoints after an hour of fake time, measured after GC in a child. */
async function historyMemory() {
  const child = spawn(
    process.execPath,
    ["--expose-gc", fileURLToPath(new URL("./history-memory-child.mjs", import.meta.url))],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (chunk) => {
    out += chunk;
  });
  await new Promise((resolve) => child.once("exit", resolve));
  return JSON.parse(out);
}

/** First render, the longest task of a reconnect storm and a click after it, at `n` endpoints. */
export async function dashboardAt(n) {
  if (!existsSync(executablePath)) {
    return [{ measure: "dashboard", value: `not measured: no Chromium at ${executablePath}` }];
  }
  const cloud = await spawnCloud(["--raw"]);
  const dir = mkdtempSync(join(tmpdir(), "xz-bench-dashboard-"));
  const config = join(dir, "xiaozhi.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      mcpEndpoint: Array.from({ length: n }, (_, i) => ({
        url: cloud.url(`dash-${i}`),
        name: `agent ${i}`,
      })),
    }),
  );
  const server = await startServer(config, n);
  const browser = await chromium.launch({
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const shown = Math.min(n, pageRows);
  try {
    const r = await renderAndStorm(browser, server, cloud, n);
    const longest = Math.max(0, ...r.tasks);
    return [
      {
        measure: `time to first render, ${shown} rows of ${n} endpoints under the counts of all (median of ${rounds})`,
        value: ms(median(r.full)),
        yardstick: `${ms(median(r.floor))} for a static page of the same rows`,
        bar: "≤ 1000 ms",
        pass: median(r.full) <= 1000,
      },
      {
        measure: `longest main-thread task while all ${n} links drop and come back (${r.changes} changes on the page shown, ${ms(r.stormMs)})`,
        value: ms(longest),
        yardstick: `${r.tasks.length} tasks over 50 ms`,
        bar: n > 1000 ? "≤ 50 ms" : "≤ 100 ms",
        pass: longest <= (n > 1000 ? 50 : 100),
      },
      {
        measure: "a click answered after the storm (to the next frame)",
        value: ms(r.clickMs),
        bar: "≤ 100 ms",
        pass: r.clickMs <= 100,
      },
    ];
  } finally {
    await browser.close();
    await server.stop();
    await cloud.stop();
  }
}

export const dashboard = {
  title: "Dashboard at 1,000 endpoints (headless Chromium) and history memory",
  async run() {
    const memory = await historyMemory();
    return [
      {
        measure: "history buffers per endpoint, after an hour (1,000 endpoints, worst-case reasons)",
        value: kib(memory.perEndpoint),
        yardstick: `${kib(memory.total)} in all; ${memory.points} points, ${memory.periods} periods held`,
        bar: `≤ ${kib(memory.boundPerEndpoint)} (the stated bound)`,
        pass: memory.perEndpoint <= memory.boundPerEndpoint,
      },
      ...(await dashboardAt(n)),
    ];
  },
};
