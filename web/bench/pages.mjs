// How fast the dashboard's and the demo store's pages are ready in headless
// Chromium: from navigation to the page's content drawn (its charts, lists
// or tables), over the engine with the demo store and some served traffic.
//   node web/bench/pages.mjs [loads]      (bench/web.sh runs it)
import { chromium } from 'playwright-core';
import { ADMIN_KEY, PUBLIC_KEY, startEngine } from '../e2e/engine.mjs';

const loads = Number(process.argv[2] ?? 20);
const engine = await startEngine();
const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
try {
  // Traffic for the charts: shoppers get lists and click some items.
  const users = (await engine.api('GET', '/v1/recommendations/trending?n=50')).body.items.map((_, i) => String(12346 + i));
  for (let i = 0; i < 600; ++i) {
    const user = users[i % users.length];
    const list = (await engine.api('GET', `/v1/recommendations/for_you?user_id=${user}&n=8`, undefined, PUBLIC_KEY)).body;
    if (i % 4 === 0 && list.items.length) {
      await engine.api('POST', '/v1/events', { type: 'click', user_id: user, item_id: list.items[0].item_id,
        recommendation_id: list.recommendation_id }, PUBLIC_KEY);
    }
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Signed in once: the key lives in the tab's sessionStorage.
  await context.addInitScript((key) => sessionStorage.setItem('vitrina.admin_key', key), ADMIN_KEY);
  const pages = [
    // What a new tab and one request cost alone: the floor under every page.
    ['baseline: /health (no script)', '/health', 'body'],
    ['demo: home', '/demo', '#for-you .vitrina-item'],
    ['demo: product', '/demo#/item/85123A', '#similar .vitrina-item'],
    ['demo: search', '/demo#/search?q=lantern', '#results li'],
    ['dashboard: overview (24 h)', '/dashboard#/overview', 'main figure svg path.line'],
    ['dashboard: overview (14 d)', '/dashboard#/overview?range=14d', 'main figure svg path.line'],
    ['dashboard: models', '/dashboard#/models', '#snapshots tbody tr'],
    ['dashboard: rules', '/dashboard#/rules', '#new-rule'],
    ['dashboard: explorer (shopper)', '/dashboard#/explorer?user=18118', '#user-for-you li'],
    ['dashboard: search tester', '/dashboard#/search?q=lantrn&user=18118', '#search-personal li'],
  ];
  console.log(`page ready (ms), ${loads} loads each after 2 to warm up: median / p90 / max`);
  for (const [name, path, selector] of pages) {
    const times = [];
    for (let i = 0; i < loads + 2; ++i) {
      const page = await context.newPage();
      const start = performance.now();
      await page.goto(engine.url + path);
      await page.waitForSelector(selector);
      const ms = performance.now() - start;
      await page.close();
      if (i >= 2) times.push(ms);
    }
    console.log(`${name.padEnd(32)} ${quantile(times, 0.5).toFixed(0).padStart(5)} / ${quantile(times, 0.9).toFixed(0).padStart(5)} / ${Math.max(...times).toFixed(0).padStart(5)}`);
  }
  await browser.close();
  // The routes behind the overview, alone.
  for (const path of ['/v1/attribution/timeline?hours=24', '/v1/attribution/timeline?hours=336', '/v1/stats']) {
    const times = [];
    for (let i = 0; i < 200; ++i) {
      const start = performance.now();
      await engine.api('GET', path);
      times.push(performance.now() - start);
    }
    console.log(`${('GET ' + path).padEnd(44)} median ${quantile(times, 0.5).toFixed(2)} ms, p99 ${quantile(times, 0.99).toFixed(2)} ms`);
  }
} finally {
  await engine.stop();
}
