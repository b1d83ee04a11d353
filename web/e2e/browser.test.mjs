// Browser tests: Debian's Chromium, driven by playwright-core, against the
// real engine with the demo store. Screenshots go to $VITRINA_SCREENSHOTS
// (build/screenshots under CTest).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { ADMIN_KEY, startEngine } from './engine.mjs';

const shots = process.env.VITRINA_SCREENSHOTS ?? join(process.cwd(), 'screenshots');
mkdirSync(shots, { recursive: true });

let engine;
let browser;
let context;
const problems = [];  // console errors and uncaught exceptions of every page

const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

before(async () => {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: \`make test\` installs Debian's chromium (or set CHROMIUM)`);
  }
  engine = await startEngine();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // A closed network: no background connections, no component updates.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.on('page', watch);
});

after(async () => {
  await browser?.close();
  await engine?.stop();
});

function watch(page) {
  page.on('console', (message) => {
    // The tests provoke 400s (a bad rule, a bad experiment) and a 401 (a wrong key) on purpose,
    // and leaving a page cancels what it was still fetching.
    const provoked = /Failed to load resource: (the server responded with a status of 40[01]|net::ERR_ABORTED)/
      .test(message.text());
    if (message.type() === 'error' && !provoked) problems.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));
}

async function listIds(page, selector) {
  await page.waitForSelector(`${selector} .vitrina-item, ${selector} .vitrina-empty`);
  return page.$$eval(`${selector} .vitrina-item`, (items) => items.map((li) => li.getAttribute('data-item-id')));
}

// A dashboard page shows a failed API call as an error paragraph.
async function noErrorShown(page) {
  const errors = await page.$$eval('main .error', (nodes) => nodes.map((n) => n.textContent).filter(Boolean));
  assert.deepEqual(errors, [], 'the page shows no error');
}

let demo;  // the storefront's tab, shared by the demo tests
let viewed = [];

test('the demo store: for_you follows the items a shopper views', { timeout: 120000 }, async () => {
  demo = await context.newPage();
  await demo.goto(engine.url + '/demo');
  const first = await listIds(demo, '#for-you');
  const trending = await listIds(demo, '#trending');
  assert.ok(trending.length > 0, 'trending shows items');
  await demo.screenshot({ path: join(shots, 'demo-home-before.png'), fullPage: true });

  // Search, then open three results of one kind.
  await demo.fill('#q', 'lantern');
  await demo.press('#q', 'Enter');
  await demo.waitForSelector('#results li');
  const results = await demo.$$eval('#results li', (items) => items.map((li) => li.getAttribute('data-item-id')));
  assert.ok(results.length >= 3, 'the search finds lanterns');
  for (const id of results.slice(0, 3)) {
    await demo.goto(engine.url + '/demo#/item/' + encodeURIComponent(id));
    await demo.waitForSelector(`article.product[data-item-id="${id}"]`);
    await listIds(demo, '#similar');
    viewed.push(id);
  }
  await demo.screenshot({ path: join(shots, 'demo-product.png'), fullPage: true });
  // The product page's lists are there, each item saying why on hover.
  const similar = await listIds(demo, '#similar');
  assert.ok(similar.length > 0, 'similar items are shown');
  const reason = await demo.getAttribute('#similar .vitrina-item', 'title');
  assert.ok(reason && reason.length > 3, 'an item explains itself on hover');

  // A click in a widget opens the item and is credited to its list.
  await demo.click('#similar .vitrina-item:first-child a');
  await demo.waitForSelector(`article.product[data-item-id="${similar[0]}"]`);
  viewed.push(similar[0]);

  await demo.click('a.brand');
  const later = await listIds(demo, '#for-you');
  await demo.screenshot({ path: join(shots, 'demo-home-after.png'), fullPage: true });
  assert.ok(later.length > 0);
  assert.notDeepEqual(later, first, 'for_you changed after the views');
  // It changed because of them: the views reached the engine under the tracker's session.
  const session = await demo.evaluate(() => window.vitrinaDemo.tracker.sessionId());
  const events = await engine.api('GET', `/v1/sessions/${encodeURIComponent(session)}/events?limit=100`);
  const views = events.body.events.filter((e) => e.type === 'view').map((e) => e.item_id);
  for (const id of viewed) assert.ok(views.includes(id), `the view of ${id} was recorded`);
  assert.ok(events.body.events.some((e) => e.type === 'search' && e.query === 'lantern'), 'the search was recorded');
  assert.ok(events.body.events.some((e) => e.type === 'impression'), 'the widgets recorded impressions');
  assert.ok(events.body.events.some((e) => e.type === 'click' && e.item_id === similar[0] && e.recommendation_id),
    'the widget click was recorded with its recommendation');
  const recent = await listIds(demo, '#recently-viewed');
  assert.ok(viewed.every((id) => recent.includes(id)), 'recently viewed lists the viewed items');
});

test('the demo store: the cart shows cross-sell, and an order is recorded', { timeout: 60000 }, async () => {
  await demo.goto(engine.url + '/demo#/item/' + encodeURIComponent(viewed[0]));
  await demo.click('#add-to-cart');
  await demo.waitForSelector('.added:has-text("Added")');
  await demo.click('#cart-link');
  await demo.waitForSelector(`#cart-lines tr[data-item-id="${viewed[0]}"]`);
  const crossSell = await listIds(demo, '#cross-sell');
  assert.ok(crossSell.length > 0, 'the cart has cross-sell');
  assert.ok(!crossSell.includes(viewed[0]), 'cross-sell leaves out what is in the cart');
  await demo.screenshot({ path: join(shots, 'demo-cart.png'), fullPage: true });
  await demo.click('#checkout');
  await demo.waitForSelector('.thanks');
  const session = await demo.evaluate(() => window.vitrinaDemo.tracker.sessionId());
  let types = [];
  for (let i = 0; i < 50 && !types.includes('purchase'); ++i) {
    const events = await engine.api('GET', `/v1/sessions/${encodeURIComponent(session)}/events?limit=100`);
    types = events.body.events.map((e) => e.type);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(types.includes('add_to_cart'), 'the add-to-cart was recorded');
  assert.ok(types.includes('purchase'), 'the order was recorded');
});

test('the demo store: search suggests while typing', { timeout: 30000 }, async () => {
  await demo.goto(engine.url + '/demo');
  await demo.fill('#q', '');
  await demo.type('#q', 'lant', { delay: 30 });
  await demo.waitForSelector('#suggestions:not([hidden]) li');
  const texts = await demo.$$eval('#suggestions li', (items) => items.map((li) => li.textContent.toLowerCase()));
  assert.ok(texts.some((t) => t.includes('lant')), 'a suggestion completes "lant": ' + texts.join(' | '));
  await demo.screenshot({ path: join(shots, 'demo-suggestions.png') });
});

let dash;

test('the dashboard: sign in, and the overview draws its charts', { timeout: 60000 }, async () => {
  dash = await context.newPage();
  await dash.goto(engine.url + '/dashboard');
  await dash.fill('#admin-key', 'wrong-key');
  await dash.click('button[type=submit]');
  await dash.waitForSelector('.login .error:has-text("not the admin key")');
  await dash.fill('#admin-key', ADMIN_KEY);
  await dash.fill('#actor', 'marketer-anna');
  await dash.click('button[type=submit]');
  await dash.waitForSelector('main[data-page=overview] figure svg');
  const charts = await dash.$$eval('main figure', (figures) => figures.map((f) => ({
    title: f.querySelector('figcaption').textContent,
    lines: [...f.querySelectorAll('path.line')].map((p) => p.getAttribute('d').length),
  })));
  const titles = charts.map((c) => c.title);
  for (const wanted of ['Events received', 'Items shown', 'Click-through rate', 'Conversion', 'Attributed revenue']) {
    assert.ok(titles.some((t) => t.startsWith(wanted)), `a chart "${wanted}" is drawn: ${titles.join(', ')}`);
  }
  const drawn = (title) => charts.find((c) => c.title.startsWith(title)).lines.some((length) => length > 0);
  assert.ok(drawn('Events received'), 'the events chart has a line');
  assert.ok(drawn('Items shown'), 'the impressions chart has a line (the demo store served lists)');
  const table = await dash.$$eval('main table.table tbody tr td:first-child', (cells) => cells.map((c) => c.textContent));
  assert.ok(table.includes('for_you') && table.includes('cart'), 'the scenarios the demo served are listed');
  const similarClicks = await dash.textContent('main table.table tbody tr:has(td:first-child:text-is("similar")) td:nth-child(4)');
  assert.equal(similarClicks, '1', 'the widget click is attributed to similar');
  await noErrorShown(dash);
  await dash.screenshot({ path: join(shots, 'dashboard-overview.png'), fullPage: true });
});

test('the dashboard: models, explorer and search tester', { timeout: 60000 }, async () => {
  await dash.click('nav a:has-text("Models")');
  await dash.waitForSelector('#snapshots tbody tr');
  assert.ok((await dash.textContent('#current-snapshot')).length > 5);
  assert.ok(await dash.$('main figure svg rect.bar'), 'the metrics chart has bars');
  await noErrorShown(dash);
  await dash.screenshot({ path: join(shots, 'dashboard-models.png'), fullPage: true });

  await dash.goto(engine.url + '/dashboard#/explorer?user=18118');
  await dash.waitForSelector('#profile');
  assert.ok(Number((await dash.textContent('#profile .stat:nth-child(2) b')).replace(/,/g, '')) > 0, 'the shopper has orders');
  await dash.waitForSelector('#user-for-you li');
  assert.ok((await dash.$$('#history tbody tr')).length > 0, 'the history is listed');
  await noErrorShown(dash);
  await dash.screenshot({ path: join(shots, 'dashboard-explorer-user.png'), fullPage: true });
  await dash.goto(engine.url + '/dashboard#/explorer?item=' + encodeURIComponent(viewed[0]));
  await dash.waitForSelector('#item-similar li');
  await noErrorShown(dash);
  await dash.screenshot({ path: join(shots, 'dashboard-explorer-item.png'), fullPage: true });

  await dash.goto(engine.url + '/dashboard#/search?q=lantrn&user=18118');
  await dash.waitForSelector('#search-personal li');
  assert.match(await dash.textContent('#search-notes'), /lantrn/, 'the typo correction is shown');
  assert.ok(await dash.$('#facets .facet'), 'facets are shown');
  await noErrorShown(dash);
  await dash.screenshot({ path: join(shots, 'dashboard-search.png'), fullPage: true });
});

test('the dashboard: train a snapshot, and restore one by hand', { timeout: 120000 }, async () => {
  await dash.goto(engine.url + '/dashboard#/models');
  await dash.waitForSelector('#snapshots tbody tr');
  const first = await dash.textContent('#current-snapshot');
  const rows = (await dash.$$('#snapshots tbody tr')).length;
  await dash.click('button:has-text("Train now")');
  // The page follows the run and redraws when it ends, with the new snapshot listed.
  await dash.waitForFunction((n) => document.querySelectorAll('#snapshots tbody tr').length === n, rows + 1,
    { timeout: 100000 });
  await noErrorShown(dash);
  const now = await dash.textContent('#current-snapshot');
  const ids = await dash.$$eval('#snapshots tbody tr td:first-child', (cells) => cells.map((c) => c.textContent));
  let restore;
  if (now === first) {
    // The quality guard kept it out (the demo's few live events after a
    // year-old history make a poor holdout), and the page says so.
    assert.match(await dash.textContent('main .warning'), /quality guard/);
    restore = ids.find((id) => id !== first);
  } else {
    restore = first;
  }
  dash.once('dialog', (dialog) => dialog.accept());
  await dash.click(`#snapshots tr:has-text("${restore}") button:has-text("Restore")`);
  await dash.waitForFunction((id) => document.querySelector('#current-snapshot')?.textContent === id, restore);
  const models = await engine.api('GET', '/v1/models');
  assert.equal(models.body.current, restore, 'the engine serves the restored snapshot');
  await dash.screenshot({ path: join(shots, 'dashboard-models-restored.png'), fullPage: true });
});

test('the dashboard: start an experiment, see its intervals, stop it', { timeout: 60000 }, async () => {
  await dash.goto(engine.url + '/dashboard#/experiments');
  await dash.waitForSelector('#new-experiment');
  await dash.fill('#new-experiment input[name=id]', 'bad id!');
  await dash.click('#new-experiment button[type=submit]');
  // The form's own check stops it: nothing was created.
  assert.ok(await dash.$eval('#new-experiment input[name=id]', (input) => !input.checkValidity()));
  assert.deepEqual((await engine.api('GET', '/v1/experiments')).body.experiments, []);
  await dash.fill('#new-experiment input[name=id]', 'browser-ab');
  await dash.click('#new-experiment button[type=submit]');
  await dash.waitForSelector('#results h2:has-text("browser-ab")');
  // Shoppers meet it in the store.
  await demo.goto(engine.url + '/demo');
  await listIds(demo, '#for-you');
  await dash.reload();  // the same address: show the results anew
  await dash.waitForSelector('#results figure svg circle.estimate');
  const charts = await dash.$$eval('#results figure figcaption', (c) => c.map((x) => x.textContent));
  assert.ok(charts.some((t) => t.startsWith('Click-through rate')));
  await noErrorShown(dash);
  await dash.screenshot({ path: join(shots, 'dashboard-experiment.png'), fullPage: true });
  dash.once('dialog', (dialog) => dialog.accept());
  await dash.click('#experiments tr.selected button:has-text("Stop")');
  await dash.waitForSelector('#experiments tr.selected .badge.stopped');
});

test('the dashboard: a rule is checked as typed, previewed, saved, and in force in the store', { timeout: 60000 }, async () => {
  // An item the anonymous shopper is not shown first: pin it to the top.
  await demo.goto(engine.url + '/demo');
  const before = await listIds(demo, '#for-you');
  const trending = await listIds(demo, '#trending');
  // Not one the previewed shopper bought: what a shopper bought is never
  // shown again, pinned or not.
  const history = await engine.api('GET', '/v1/users/18118/events?limit=1000');
  const bought = new Set(history.body.events.flatMap((e) => (e.lines ?? []).map((l) => l.item_id)));
  const pinned = trending.find((id) => id !== before[0] && !bought.has(id));

  await dash.goto(engine.url + '/dashboard#/rules');
  await dash.click('#new-rule');
  await dash.waitForSelector('#rule-form');
  // A broken expression is refused with the field marked.
  await dash.fill('#rule-form textarea[name=expression]', 'price <');
  await dash.waitForSelector('#rule-form [data-field=expression] .field-error:not(:empty)');
  assert.match(await dash.textContent('#rule-form [data-field=expression] .field-error'), /expression|column/);
  await dash.screenshot({ path: join(shots, 'dashboard-rule-invalid.png'), fullPage: true });

  await dash.selectOption('#rule-form select[name=kind]', 'pin');
  await dash.fill('#rule-form input[name=name]', 'Pin from the browser test');
  await dash.fill('#rule-form input[name=items]', pinned);
  await dash.fill('#rule-form input[name=position]', '1');
  await dash.check('#rule-form input[value=for_you]');
  await dash.waitForSelector('.validation.good');
  await dash.fill('#preview-user', '18118');
  await dash.click('#preview-button');
  await dash.waitForSelector('#preview ol[aria-label="with this rule"] li');
  const previewFirst = await dash.getAttribute('#preview ol[aria-label="with this rule"] li:first-child', 'data-item-id');
  assert.equal(previewFirst, pinned, 'the preview shows the pinned item first');
  await noErrorShown(dash);
  await dash.screenshot({ path: join(shots, 'dashboard-rule-preview.png'), fullPage: true });
  await dash.click('#save-rule');
  await dash.waitForSelector(`#rules tr:has-text("Pin from the browser test")`);
  // Saved, the editor shows the rule again with its history.
  await dash.waitForSelector('#rule-history tbody tr:has-text("create")');
  assert.match(await dash.textContent('#rule-history tbody tr'), /marketer-anna/, 'the audit log names who saved it');

  await demo.goto(engine.url + '/demo#/');
  await demo.reload();
  const now = await listIds(demo, '#for-you');
  assert.equal(now[0], pinned, 'the store shows the pinned item first');
  await demo.screenshot({ path: join(shots, 'demo-home-pinned.png'), fullPage: true });
});

test('no page logged an error or broke the security policy', () => {
  assert.deepEqual(problems, []);
});
