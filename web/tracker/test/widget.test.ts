import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { loadWidget, renderRecommendations, safeHref } from '../src/widget.js';
import type { WidgetDocument, WidgetElement, WidgetEvent, WidgetOptions } from '../src/widget.js';
import { Tracker } from '../src/tracker.js';
import type { FetchLike, InstallTarget, RecommendationResponse, RecommendedItem, TrackedEvent } from '../src/tracker.js';

// --- a small fake DOM ------------------------------------------------------------

class FakeElement {
  readonly tagName: string;
  className = '';
  nodes: (FakeElement | string)[] = [];
  attributes = new Map<string, string>();
  listeners = new Map<string, ((event: WidgetEvent) => void)[]>();

  constructor(tagName: string) {
    this.tagName = tagName.toLowerCase();
  }

  get textContent(): string {
    return this.nodes.map((n) => (typeof n === 'string' ? n : n.textContent)).join('');
  }
  set textContent(value: string | null) {
    this.nodes = value ? [value] : [];
  }
  // Any markup parsing would be a way in for hostile catalog text.
  get innerHTML(): string {
    throw new Error('the widget must not read innerHTML');
  }
  set innerHTML(_value: string) {
    throw new Error('the widget must not write innerHTML');
  }

  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value));
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  appendChild(child: { textContent: string | null }): unknown {
    assert.ok(child instanceof FakeElement, 'only elements are appended');
    this.nodes.push(child);
    return child;
  }
  addEventListener(type: string, listener: (event: WidgetEvent) => void): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  children(): FakeElement[] {
    return this.nodes.filter((n): n is FakeElement => typeof n !== 'string');
  }
  all(): FakeElement[] {
    return this.children().flatMap((c) => [c, ...c.all()]);
  }
  byClass(className: string): FakeElement[] {
    return this.all().filter((e) => e.className.split(' ').includes(className));
  }
  one(className: string): FakeElement {
    const found = this.byClass(className);
    assert.equal(found.length, 1, `one .${className}`);
    return found[0];
  }
  /** Dispatches a click; returns whether preventDefault was called. */
  click(init: Partial<WidgetEvent> = {}): boolean {
    let prevented = false;
    const event: WidgetEvent = { button: 0, ...init, preventDefault: () => (prevented = true) };
    for (const listener of this.listeners.get('click') ?? []) listener(event);
    return prevented;
  }
}

class FakeDocument implements WidgetDocument {
  created: FakeElement[] = [];
  createElement(tagName: string): FakeElement {
    const element = new FakeElement(tagName);
    this.created.push(element);
    return element;
  }
}

class RecordingTracker {
  impressions: [string[], string | null | undefined][] = [];
  clicks: [string, string | null | undefined][] = [];
  requests: [string, unknown][] = [];
  answer: RecommendationResponse | Error = response([]);

  impression(itemIds: (string | number)[], recommendationId?: string | null): string {
    this.impressions.push([itemIds.map(String), recommendationId]);
    return 'c-1';
  }
  click(itemId: string | number, recommendationId?: string | null): string {
    this.clicks.push([String(itemId), recommendationId]);
    return 'c-2';
  }
  async recommend(scenario: string, params?: unknown): Promise<RecommendationResponse> {
    this.requests.push([scenario, params]);
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
}

function item(id: string, fields: Partial<RecommendedItem> = {}): RecommendedItem {
  return {
    item_id: id,
    title: `Item ${id}`,
    price: 2.95,
    score: 1,
    model: 'cooccurrence',
    reason: `often bought with ${id}0`,
    reason_item_id: `${id}0`,
    ...fields,
  };
}

function response(items: RecommendedItem[]): RecommendationResponse {
  return { recommendation_id: 'rec_abc', scenario: 'bought_together', snapshot: 4, items };
}

function setup(options: WidgetOptions = {}) {
  const doc = new FakeDocument();
  const container = doc.createElement('div');
  const tracker = new RecordingTracker();
  return { doc, container, tracker, options: { document: doc, tracker, ...options } };
}

// Compile-time: the real DOM fits the interfaces the widget and install ask for.
function typeChecks(document: Document, element: HTMLElement, window: Window): void {
  const d: WidgetDocument = document;
  const e: WidgetElement = element;
  const w: InstallTarget = window;
  void [d, e, w];
}
void typeChecks;

// --- rendering ---------------------------------------------------------------------

describe('renderRecommendations', () => {
  test('renders each item with title, price, link, data-item-id and its reason', () => {
    const { container, options } = setup({
      currency: 'GBP',
      locale: 'en-GB',
      heading: 'Goes well with',
      itemUrl: (i) => `/product/${encodeURIComponent(i.item_id)}`,
    });
    renderRecommendations(
      container,
      response([item('A'), item('B/2', { price: null, reason: '' }), item('C', { price: 12 })]),
      options,
    );
    assert.equal(container.one('vitrina-heading').textContent, 'Goes well with');
    const list = container.one('vitrina-list');
    assert.equal(list.tagName, 'ul');
    assert.equal(list.getAttribute('data-recommendation-id'), 'rec_abc');
    const rows = container.byClass('vitrina-item');
    assert.deepEqual(rows.map((r) => r.getAttribute('data-item-id')), ['A', 'B/2', 'C']);

    const [a, b, c] = rows;
    assert.equal(a.getAttribute('title'), 'often bought with A0', 'the reason on hover');
    assert.equal(a.one('vitrina-reason').textContent, 'often bought with A0', 'and as a caption');
    assert.equal(a.one('vitrina-reason').tagName, 'small');
    assert.equal(a.one('vitrina-title').textContent, 'Item A');
    assert.equal(a.one('vitrina-price').textContent, '£2.95');
    assert.equal(a.one('vitrina-link').getAttribute('href'), '/product/A');
    assert.equal(a.one('vitrina-link').getAttribute('data-item-id'), 'A');

    assert.equal(b.getAttribute('title'), null, 'no reason, no title');
    assert.equal(b.byClass('vitrina-reason').length, 0);
    assert.equal(b.byClass('vitrina-price').length, 0, 'no price, no price element');
    assert.equal(b.one('vitrina-link').getAttribute('href'), '/product/B%2F2');
    assert.equal(c.one('vitrina-price').textContent, '£12.00');
  });

  test('without currency prices have two decimals; without itemUrl links are #; formatPrice and showReason apply', () => {
    const plain = setup();
    renderRecommendations(plain.container, response([item('A', { price: 3 })]), plain.options);
    assert.equal(plain.container.one('vitrina-price').textContent, '3.00');
    assert.equal(plain.container.one('vitrina-link').getAttribute('href'), '#');

    const custom = setup({ formatPrice: (p) => `${p * 100} ¢`, showReason: false });
    renderRecommendations(custom.container, response([item('A', { price: 3 })]), custom.options);
    assert.equal(custom.container.one('vitrina-price').textContent, '300 ¢');
    assert.equal(custom.container.byClass('vitrina-reason').length, 0);
    assert.equal(custom.container.one('vitrina-item').getAttribute('title'), 'often bought with A0');
  });

  test('hostile titles and reasons stay text', () => {
    const { container, doc, options } = setup();
    const title = '<img src=x onerror="alert(1)">';
    const reason = '</small><script>alert(2)</script>';
    renderRecommendations(container, response([item('A', { title, reason })]), options);
    assert.equal(container.one('vitrina-title').textContent, title);
    assert.equal(container.one('vitrina-reason').textContent, reason);
    assert.equal(container.one('vitrina-item').getAttribute('title'), reason);
    const tags = new Set(doc.created.map((e) => e.tagName));
    assert.ok(!tags.has('img') && !tags.has('script'), `created only ${[...tags].join(', ')}`);
  });

  test('script URLs from itemUrl become #', () => {
    const { container, options } = setup({ itemUrl: () => ' JaVa\tScRiPt:alert(1)' });
    renderRecommendations(container, response([item('A')]), options);
    assert.equal(container.one('vitrina-link').getAttribute('href'), '#');
    assert.equal(safeHref('data:text/html,<b>x</b>'), '#');
    assert.equal(safeHref('vbscript:msgbox'), '#');
    assert.equal(safeHref('https://shop.test/p/A?x=javascript:'), 'https://shop.test/p/A?x=javascript:');
    assert.equal(safeHref('/p/A'), '/p/A');
  });

  test('records one impression of the shown items with the recommendation_id', () => {
    const { container, tracker, options } = setup();
    renderRecommendations(container, response([item('A'), item('B'), item('C')]), options);
    assert.deepEqual(tracker.impressions, [[['A', 'B', 'C'], 'rec_abc']]);
    assert.deepEqual(tracker.clicks, []);
  });

  test('a click records a click with the recommendation_id and lets the link proceed', () => {
    const { container, tracker, options } = setup();
    renderRecommendations(container, response([item('A'), item('B')]), options);
    const prevented = container.byClass('vitrina-link')[1].click();
    assert.deepEqual(tracker.clicks, [['B', 'rec_abc']]);
    assert.equal(prevented, false);
  });

  test('with onSelect a plain click is handled in the page; a modified click still opens the link', () => {
    const selected: string[] = [];
    const { container, tracker, options } = setup({ onSelect: (i) => selected.push(i.item_id) });
    renderRecommendations(container, response([item('A'), item('B')]), options);
    const link = container.byClass('vitrina-link')[0];
    assert.equal(link.click(), true);
    assert.deepEqual(selected, ['A']);
    assert.equal(link.click({ ctrlKey: true }), false);
    assert.equal(link.click({ button: 1 }), false);
    assert.deepEqual(selected, ['A']);
    assert.deepEqual(tracker.clicks, [
      ['A', 'rec_abc'],
      ['A', 'rec_abc'],
      ['A', 'rec_abc'],
    ]);
  });

  test('no items: the empty state replaces old content, and no impression is recorded', () => {
    const { container, tracker, options } = setup({ emptyText: 'Nothing here yet' });
    renderRecommendations(container, response([item('A')]), options);
    renderRecommendations(container, response([]), options);
    assert.equal(container.children().length, 1);
    assert.equal(container.one('vitrina-empty').textContent, 'Nothing here yet');
    assert.equal(container.byClass('vitrina-item').length, 0);
    assert.equal(tracker.impressions.length, 1, 'only the first render');
  });

  test('a tracker that throws does not break rendering', () => {
    const { container, options } = setup();
    const throwing = {
      impression: () => {
        throw new TypeError('bad');
      },
      click: () => {
        throw new TypeError('bad');
      },
    };
    renderRecommendations(container, response([item('A')]), { ...options, tracker: throwing });
    assert.equal(container.byClass('vitrina-item').length, 1);
    assert.equal(container.one('vitrina-link').click(), false);
  });
});

describe('loadWidget', () => {
  test('fetches the scenario with the params and renders it', async () => {
    const { container, tracker, doc } = setup();
    tracker.answer = response([item('A'), item('B')]);
    const result = await loadWidget(tracker, container, 'bought_together', { item_id: 'X', n: 2 }, { document: doc });
    assert.equal(result, tracker.answer);
    assert.deepEqual(tracker.requests, [['bought_together', { item_id: 'X', n: 2 }]]);
    assert.equal(container.byClass('vitrina-item').length, 2);
    assert.deepEqual(tracker.impressions, [[['A', 'B'], 'rec_abc']]);
    assert.equal(container.getAttribute('aria-busy'), 'false');
  });

  test('shows the empty state when nothing comes back', async () => {
    const { container, tracker, doc } = setup();
    tracker.answer = response([]);
    await loadWidget(tracker, container, 'for_you', {}, { document: doc, heading: 'Recently viewed' });
    assert.equal(container.one('vitrina-empty').textContent, 'No recommendations yet.');
    assert.equal(container.one('vitrina-heading').textContent, 'Recently viewed');
    assert.deepEqual(tracker.impressions, []);
  });

  test('shows the error state when the request fails, and resolves to null', async () => {
    const { container, tracker, doc } = setup();
    tracker.answer = new Error('HTTP 503');
    const errors: unknown[] = [];
    const result = await loadWidget(tracker, container, 'for_you', {}, {
      document: doc,
      heading: 'Picked for you',
      errorText: 'Try again later',
      onError: (e) => errors.push(e),
    });
    assert.equal(result, null);
    assert.equal(container.one('vitrina-error').textContent, 'Try again later');
    assert.equal(container.one('vitrina-heading').textContent, 'Picked for you', 'the heading stays');
    assert.equal(errors.length, 1);
    assert.equal(container.getAttribute('aria-busy'), 'false');
    assert.deepEqual(tracker.impressions, []);
  });

  test('with a real Tracker, the impression and the click reach the server with the recommendation_id', async () => {
    const posted: TrackedEvent[] = [];
    const urls: string[] = [];
    const fetch: FetchLike = async (url, init) => {
      urls.push(url);
      if (init.method === 'POST') posted.push(...(JSON.parse(init.body as string) as TrackedEvent[]));
      const body = init.method === 'GET' ? response([item('A'), item('B')]) : { accepted: 1 };
      return { status: 200, headers: { get: () => null }, text: async () => JSON.stringify(body) };
    };
    const tracker = new Tracker({
      endpoint: 'https://reco.test',
      key: 'pk',
      userId: 'u-1',
      fetch,
      storage: null,
      sendBeacon: null,
      setTimeout: () => 0,
      clearTimeout: () => undefined,
    });
    const doc = new FakeDocument();
    const container = doc.createElement('div');
    await loadWidget(tracker, container, 'similar', { item_id: 'X' }, { document: doc });
    assert.match(urls[0], /^https:\/\/reco\.test\/v1\/recommendations\/similar\?user_id=u-1&session_id=s-[0-9a-z]+&item_id=X$/);
    container.byClass('vitrina-link')[1].click();
    await tracker.flush();
    assert.deepEqual(
      posted.map((e) => [e.type, e.item_ids ?? e.item_id, e.recommendation_id, e.user_id]),
      [
        ['impression', ['A', 'B'], 'rec_abc', 'u-1'],
        ['click', 'B', 'rec_abc', 'u-1'],
      ],
    );
  });
});
