import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import {
  Tracker,
  VitrinaError,
  VitrinaFieldError,
  chunkBySize,
  parseRetryAfter,
  utf8Length,
} from '../src/tracker.js';
import type {
  FetchInit,
  FetchLike,
  ResponseLike,
  StorageLike,
  TrackedEvent,
  TrackerError,
  TrackerOptions,
} from '../src/tracker.js';

// --- fakes ----------------------------------------------------------------------

/** Lets every settled promise chain run (fake fetches answer in microtasks). */
const drain = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

class FakeClock {
  t = Date.UTC(2026, 0, 15, 12, 0, 0);
  /** Delays of the timers that ran, in order. */
  fired: number[] = [];
  private timers = new Map<number, { at: number; ms: number; fn: () => void }>();
  private seq = 0;

  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): number => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, ms, fn });
    return id;
  };
  clearTimeout = (id: number): void => {
    this.timers.delete(id);
  };

  pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running due timers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await drain();
      const next = this.earliest();
      if (!next || next[1].at > end) break;
      this.run(next);
    }
    this.t = end;
    await drain();
  }

  /** Runs timers until none are left. */
  async runAll(limit = 1000): Promise<void> {
    for (let i = 0; i < limit; i++) {
      await drain();
      const next = this.earliest();
      if (!next) return;
      this.run(next);
    }
    throw new Error('timers keep coming');
  }

  private earliest(): [number, { at: number; ms: number; fn: () => void }] | undefined {
    let best: [number, { at: number; ms: number; fn: () => void }] | undefined;
    for (const entry of this.timers) if (!best || entry[1].at < best[1].at) best = entry;
    return best;
  }

  private run([id, timer]: [number, { at: number; ms: number; fn: () => void }]): void {
    this.timers.delete(id);
    this.t = Math.max(this.t, timer.at);
    this.fired.push(timer.ms);
    timer.fn();
  }
}

class FakeStorage implements StorageLike {
  map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.has(key) ? (this.map.get(key) as string) : null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, String(value));
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
  queued(): TrackedEvent[] {
    const raw = this.getItem('vitrina.queue');
    return raw ? (JSON.parse(raw) as TrackedEvent[]) : [];
  }
}

interface Request {
  url: string;
  init: FetchInit;
  events: TrackedEvent[];
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | Error | Deferred;

class Deferred {
  resolve!: (reply: { status: number; body?: unknown }) => void;
  reject!: (error: Error) => void;
  promise = new Promise<{ status: number; body?: unknown }>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
}

function response(reply: { status: number; body?: unknown; headers?: Record<string, string> }): ResponseLike {
  const headers = reply.headers ?? {};
  return {
    status: reply.status,
    headers: {
      get: (name) => {
        for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name.toLowerCase()) return v;
        return null;
      },
    },
    text: async () => (reply.body === undefined ? '' : JSON.stringify(reply.body)),
  };
}

const ok = (req: Request): Reply => ({
  status: 200,
  body: { accepted: req.events.length, duplicates: 0, rejected: 0, errors: [], duplicate_indices: [] },
});

/** Answers scripted replies in order, then `fallback` (200 by default); records every request. */
class FakeServer {
  requests: Request[] = [];
  replies: Reply[] = [];
  fallback: (req: Request) => Reply = ok;

  fetch: FetchLike = async (url, init) => {
    const events = init.body ? (JSON.parse(init.body) as TrackedEvent[]) : [];
    const req = { url, init, events };
    this.requests.push(req);
    const reply = this.replies.length > 0 ? (this.replies.shift() as Reply) : this.fallback(req);
    if (reply instanceof Error) throw reply;
    if (reply instanceof Deferred) return response(await reply.promise);
    return response(reply);
  };

  posts(): Request[] {
    return this.requests.filter((r) => r.init.method === 'POST');
  }
  sentIds(): string[] {
    return this.posts().flatMap((r) => r.events.map((e) => e.event_id));
  }
}

function queryOf(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  url.searchParams.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/** Deterministic, varied numbers (mulberry32), so event ids differ. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setup(options: Partial<TrackerOptions> = {}, shared?: { clock?: FakeClock; storage?: FakeStorage; server?: FakeServer }) {
  const clock = shared?.clock ?? new FakeClock();
  const storage = shared?.storage ?? new FakeStorage();
  const server = shared?.server ?? new FakeServer();
  const errors: TrackerError[] = [];
  const beacons: { url: string; data: string }[] = [];
  const tracker = new Tracker({
    endpoint: 'https://reco.test',
    key: 'pk_test',
    fetch: server.fetch,
    sendBeacon: null,
    storage,
    now: clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: seeded(7),
    onError: (e) => errors.push(e),
    ...options,
  });
  return { tracker, clock, storage, server, errors, beacons };
}

function beaconRecorder(result: boolean | (() => boolean) = true) {
  const calls: { url: string; data: string }[] = [];
  const send = (url: string, data: string): boolean => {
    calls.push({ url, data });
    return typeof result === 'function' ? result() : result;
  };
  return { calls, send };
}

// --- events -------------------------------------------------------------------------

describe('events', () => {
  test('carry a client event_id, the session, the user, an ISO timestamp and the default context', () => {
    const { tracker, clock, storage } = setup({ userId: 'u-1', context: { device: 'mobile', channel: 'web' } });
    const id = tracker.view('85123A', { context: { page: '/p/85123A', channel: 'app' } });
    const [event] = storage.queued();
    assert.match(id, /^c-[0-9a-z]{20}$/);
    assert.deepEqual(event, {
      event_id: id,
      type: 'view',
      user_id: 'u-1',
      session_id: tracker.sessionId(),
      item_id: '85123A',
      timestamp: new Date(clock.t).toISOString(),
      context: { device: 'mobile', channel: 'app', page: '/p/85123A' },
    });
  });

  test('ids differ between events, and numeric ids are sent as text', () => {
    const { tracker, storage } = setup();
    const a = tracker.click(17850, 'rec_1');
    const b = tracker.click('17850');
    assert.notEqual(a, b);
    const [first, second] = storage.queued();
    assert.equal(first.item_id, '17850');
    assert.equal(first.recommendation_id, 'rec_1');
    assert.equal(second.recommendation_id, undefined);
  });

  test('cart events use the default currency and the item shorthand; purchase keeps a given event_id', () => {
    const { tracker, storage } = setup({ currency: 'GBP' });
    tracker.addToCart('A', 2, 2.95);
    tracker.removeFromCart('A');
    const orderId = tracker.purchase(
      [
        { item_id: 'A', quantity: 6, price: 2.55 },
        { item_id: 'B', quantity: 1 },
      ],
      { event_id: 'ord-536365', currency: 'EUR' },
    );
    tracker.search('lantern');
    tracker.impression(['A', 'B'], 'rec_9');
    const [add, remove, purchase, search, impression] = storage.queued();
    assert.equal(orderId, 'ord-536365');
    assert.deepEqual([add.item_id, add.quantity, add.price, add.currency], ['A', 2, 2.95, 'GBP']);
    assert.deepEqual([remove.quantity, remove.price, remove.currency], [1, undefined, 'GBP']);
    assert.equal(purchase.event_id, 'ord-536365');
    assert.equal(purchase.currency, 'EUR');
    assert.deepEqual(purchase.lines, [
      { item_id: 'A', quantity: 6, price: 2.55 },
      { item_id: 'B', quantity: 1 },
    ]);
    assert.equal(purchase.item_id, undefined);
    assert.equal(search.query, 'lantern');
    assert.equal(search.currency, undefined);
    assert.deepEqual(impression.item_ids, ['A', 'B']);
    assert.equal(impression.recommendation_id, 'rec_9');
  });

  test('a timestamp may be given as a Date, a string or seconds', () => {
    const { tracker, storage } = setup();
    tracker.view('A', { timestamp: new Date(Date.UTC(2024, 4, 1, 10)) });
    tracker.view('B', { timestamp: '2024-05-01T12:00:00+02:00' });
    tracker.view('C', { timestamp: 1714557600 });
    assert.deepEqual(
      storage.queued().map((e) => e.timestamp),
      ['2024-05-01T10:00:00.000Z', '2024-05-01T12:00:00+02:00', 1714557600],
    );
  });
});

describe('validation', () => {
  const cases: [string, (t: Tracker) => unknown, string][] = [
    ['an unknown type', (t) => t.track('like' as never, { item_id: 'A' }), 'type'],
    ['a click without item_id', (t) => t.track('click', {}), 'item_id'],
    ['an empty item id', (t) => t.view(''), 'item_id'],
    ['an item id with a control character', (t) => t.view('A\nB'), 'item_id'],
    ['an item id over 256 bytes', (t) => t.view('é'.repeat(129)), 'item_id'],
    ['a search without query', (t) => t.track('search', {}), 'query'],
    ['a blank search', (t) => t.search('   '), 'query'],
    ['a rating without value', (t) => t.track('rating', { item_id: 'A' }), 'value'],
    ['a rating out of range', (t) => t.track('rating', { item_id: 'A', value: 2e6 }), 'value'],
    ['an impression without items', (t) => t.impression([]), 'item_ids'],
    ['an impression with a bad id', (t) => t.impression(['A', '']), 'item_ids[1]'],
    ['a purchase without lines or item', (t) => t.track('purchase', {}), 'item_id'],
    ['a line with a negative quantity', (t) => t.purchase([{ item_id: 'A', quantity: 1 }, { item_id: 'B', quantity: -1 }]), 'lines[1].quantity'],
    ['a line without item', (t) => t.purchase([{ quantity: 1 } as never]), 'lines[0].item_id'],
    ['a line with an unknown field', (t) => t.purchase([{ item_id: 'A', qty: 2 } as never]), 'lines[0].qty'],
    ['lines and item_id together', (t) => t.track('purchase', { lines: [{ item_id: 'A' }], item_id: 'B' }), 'item_id'],
    ['a zero quantity', (t) => t.addToCart('A', 0), 'quantity'],
    ['a negative price', (t) => t.addToCart('A', 1, -2), 'price'],
    ['a lowercase currency', (t) => t.addToCart('A', 1, 2, { currency: 'eur' }), 'currency'],
    ['a quantity on a view', (t) => t.track('view', { item_id: 'A', quantity: 2 }), 'quantity'],
    ['a camelCase field', (t) => t.track('view', { itemId: 'A' } as never), 'itemId'],
    ["an event_id starting with '~'", (t) => t.view('A', { event_id: '~12' }), 'event_id'],
    ['an unknown context field', (t) => t.view('A', { context: { browser: 'x' } as never }), 'context.browser'],
    ['a timestamp in milliseconds', (t) => t.view('A', { timestamp: Date.now() }), 'timestamp'],
  ];
  for (const [what, call, field] of cases) {
    test(`${what} throws a TypeError naming ${field}`, () => {
      const { tracker, server, storage } = setup();
      assert.throws(
        () => call(tracker),
        (err: unknown) => err instanceof TypeError && err instanceof VitrinaFieldError && err.field === field && err.message.includes(field),
      );
      assert.equal(tracker.pending(), 0);
      assert.equal(storage.queued().length, 0);
      assert.equal(server.requests.length, 0);
    });
  }

  test('a camelCase field gets the wire name suggested', () => {
    const { tracker } = setup();
    assert.throws(() => tracker.track('view', { itemId: 'A' } as never), /did you mean item_id\?/);
  });

  test('bad options throw at construction', () => {
    assert.throws(() => new Tracker({ key: '' }), (e: unknown) => e instanceof VitrinaFieldError && e.field === 'key');
    assert.throws(
      () => new Tracker({ key: 'k', storage: null, context: { os: 'x' } as never }),
      (e: unknown) => e instanceof VitrinaFieldError && e.field === 'context.os',
    );
    assert.throws(() => new Tracker({ key: 'k', storage: null, maxBatch: 0 }), /maxBatch/);
  });
});

// --- sending ------------------------------------------------------------------------

describe('batching', () => {
  test('a full batch goes at once; the rest waits for the flush timer', async () => {
    const { tracker, clock, server } = setup({ maxBatch: 3, flushIntervalMs: 1000 });
    const ids = [tracker.view('A'), tracker.view('B'), tracker.view('C')];
    assert.equal(server.requests.length, 1, 'the third event fills the batch and sends it');
    assert.deepEqual(server.requests[0].events.map((e) => e.event_id), ids);
    await drain();
    tracker.view('D');
    tracker.view('E');
    await drain();
    assert.equal(server.requests.length, 1);
    await clock.advance(999);
    assert.equal(server.requests.length, 1);
    await clock.advance(1);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(server.requests[1].events.map((e) => e.item_id), ['D', 'E']);
    assert.equal(tracker.pending(), 0);
  });

  test('flush sends the queue in batches of maxBatch, in order, one request at a time', async () => {
    const { tracker, server } = setup({ maxBatch: 3, flushIntervalMs: 60_000 });
    const gate = new Deferred();
    server.replies = [gate];
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(tracker.view(`I${i}`));
    await drain();
    assert.equal(server.requests.length, 1, 'the next batch waits for the answer to the first');
    gate.resolve({ status: 200, body: { accepted: 3 } });
    await tracker.flush();
    assert.deepEqual(server.requests.map((r) => r.events.length), [3, 3, 1]);
    assert.deepEqual(server.sentIds(), ids);
  });

  test('a request carries the key as a Bearer header, JSON, and keepalive', async () => {
    const { tracker, clock, server } = setup({ endpoint: 'https://reco.test/' });
    tracker.view('A');
    await clock.advance(1000);
    const [req] = server.requests;
    assert.equal(req.url, 'https://reco.test/v1/events');
    assert.equal(req.init.method, 'POST');
    assert.equal(req.init.headers.Authorization, 'Bearer pk_test');
    assert.equal(req.init.headers['Content-Type'], 'application/json');
    assert.equal(req.init.keepalive, true);
    assert.ok(Array.isArray(JSON.parse(req.init.body as string)));
  });

  test('a batch over 64 KiB is sent without keepalive, which browsers refuse for it', async () => {
    const { tracker, server } = setup({ maxBatch: 1000, flushIntervalMs: 60_000 });
    for (let i = 0; i < 80; i++) tracker.search('x'.repeat(1000));
    await tracker.flush();
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].init.keepalive, false);
  });

  test('flush resolves once everything is delivered, and the storage is cleared', async () => {
    const { tracker, server, storage } = setup();
    tracker.view('A');
    tracker.view('B');
    assert.equal(storage.queued().length, 2);
    await tracker.flush();
    assert.equal(server.requests.length, 1);
    assert.equal(tracker.pending(), 0);
    assert.equal(storage.getItem('vitrina.queue'), null);
  });
});

describe('retries', () => {
  test('network errors and 5xx resend the same events with growing delays, honouring Retry-After', async () => {
    const { tracker, clock, server, errors } = setup({ random: () => 0 });
    server.replies = [
      new TypeError('Failed to fetch'),
      { status: 500, body: { error: { code: 'internal' } } },
      { status: 503, headers: { 'Retry-After': '7' }, body: { error: { code: 'unavailable' } } },
    ];
    const id = tracker.view('A');
    const done = tracker.flush();
    await clock.runAll();
    await done;
    assert.equal(server.requests.length, 4);
    assert.deepEqual(server.sentIds(), [id, id, id, id], 'every attempt reuses the event_id');
    assert.deepEqual(
      server.requests.map((r) => r.init.body),
      Array(4).fill(server.requests[0].init.body),
      'and the same body, timestamp included',
    );
    // random() = 0: half of 500, 1000, 2000 ms; the third waits the 7 s the server asked for.
    assert.deepEqual(clock.fired, [250, 500, 7000]);
    assert.deepEqual(errors, []);
    assert.equal(tracker.pending(), 0);
  });

  test('delays double up to the cap, jittered within [half, full]', async () => {
    const { tracker, clock, server } = setup({ maxRetries: 8, backoffMs: 500, random: seeded(3) });
    server.fallback = () => ({ status: 502 });
    tracker.view('A');
    const done = tracker.flush();
    await clock.runAll();
    await done;
    const bases = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000];
    assert.equal(clock.fired.length, bases.length);
    clock.fired.forEach((delay, i) => {
      assert.ok(delay >= bases[i] / 2 && delay <= bases[i], `retry ${i + 1}: ${delay} ms for a base of ${bases[i]}`);
    });
  });

  test('with random() near 1 the delays are the full exponential sequence, capped', async () => {
    const { tracker, clock, server } = setup({ maxRetries: 5, backoffMs: 1000, maxBackoffMs: 4000, random: () => 0.9999999 });
    server.fallback = () => ({ status: 503 });
    tracker.view('A');
    const done = tracker.flush();
    await clock.runAll();
    await done;
    assert.deepEqual(clock.fired, [1000, 2000, 4000, 4000, 4000]);
  });

  test('after maxRetries the batch is given up and reported, and not sent again', async () => {
    const { tracker, clock, server, errors, storage } = setup({ maxRetries: 3, random: () => 0 });
    server.fallback = () => ({ status: 503, body: { error: { code: 'unavailable' } } });
    const id = tracker.view('A');
    const done = tracker.flush();
    await clock.runAll();
    await done;
    assert.equal(server.requests.length, 4, 'the first try and three retries');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].kind, 'gave_up');
    assert.equal(errors[0].status, 503);
    assert.deepEqual(errors[0].events.map((e) => e.event_id), [id]);
    assert.equal(tracker.pending(), 0);
    assert.equal(storage.getItem('vitrina.queue'), null);
    await clock.advance(120_000);
    assert.equal(server.requests.length, 4);
  });

  test('events tracked during a retry wait are sent after the retried batch', async () => {
    const { tracker, clock, server } = setup({ flushIntervalMs: 1000 });
    server.replies = [{ status: 503 }];
    const first = tracker.view('A');
    await clock.advance(1000); // sent, answered 503, waiting to retry
    const second = tracker.view('B');
    await clock.runAll();
    assert.deepEqual(server.sentIds(), [first, first, second]);
  });

  test('a 207 drops only the rejected events, reports each, and resends nothing', async () => {
    const { tracker, clock, server, errors, storage } = setup({ maxBatch: 4 });
    server.replies = [
      {
        status: 207,
        body: {
          accepted: 2,
          duplicates: 0,
          rejected: 2,
          errors: [
            { index: 1, code: 'future_timestamp', field: 'timestamp', message: 'timestamp is ahead' },
            { index: 3, code: 'out_of_range', field: 'lines[0].price', message: 'price out of range' },
          ],
        },
      },
    ];
    const ids = [tracker.view('A'), tracker.view('B'), tracker.view('C'), tracker.view('D')];
    await tracker.flush();
    assert.deepEqual(
      errors.map((e) => [e.kind, e.status, e.code, e.field, e.events.map((x) => x.event_id)]),
      [
        ['rejected', 207, 'future_timestamp', 'timestamp', [ids[1]]],
        ['rejected', 207, 'out_of_range', 'lines[0].price', [ids[3]]],
      ],
    );
    assert.equal(errors[0].message, 'timestamp is ahead');
    await clock.advance(120_000);
    assert.equal(server.requests.length, 1, 'neither the accepted nor the rejected are sent again');
    assert.equal(tracker.pending(), 0);
    assert.equal(storage.getItem('vitrina.queue'), null);
  });

  test('a 400 with per-record errors reports every event and retries none', async () => {
    const { tracker, clock, server, errors } = setup({ maxBatch: 2 });
    server.replies = [
      {
        status: 400,
        body: {
          accepted: 0,
          rejected: 2,
          error: { code: 'unknown_field' },
          errors: [
            { index: 0, code: 'unknown_field', field: 'colour', message: 'unknown field' },
            { index: 1, code: 'unknown_field', field: 'colour', message: 'unknown field' },
          ],
        },
      },
    ];
    const ids = [tracker.view('A'), tracker.view('B')];
    await tracker.flush();
    await clock.advance(60_000);
    assert.equal(server.requests.length, 1);
    assert.deepEqual(errors.map((e) => e.events[0].event_id), ids);
  });

  test('a 400 without per-record errors (invalid_json) reports the whole batch once', async () => {
    const { tracker, server, errors } = setup();
    server.replies = [{ status: 400, body: { error: { code: 'invalid_json', message: 'malformed JSON', field: null } } }];
    tracker.view('A');
    tracker.view('B');
    await tracker.flush();
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 'invalid_json');
    assert.equal(errors[0].events.length, 2);
    assert.equal(server.requests.length, 1);
  });

  test('a 413 splits the batch in halves, and later batches stay at the smaller size', async () => {
    const { tracker, server, errors } = setup({ maxBatch: 4, flushIntervalMs: 60_000 });
    server.replies = [{ status: 413, body: { error: { code: 'batch_too_large' } } }];
    const ids = ['A', 'B', 'C', 'D'].map((item) => tracker.view(item));
    await tracker.flush();
    assert.deepEqual(server.requests.map((r) => r.events.length), [4, 2, 2]);
    assert.deepEqual(server.sentIds().slice(4), ids, 'each event is in exactly one half');
    for (const item of ['E', 'F', 'G', 'H']) tracker.view(item);
    await tracker.flush();
    assert.deepEqual(server.requests.slice(3).map((r) => r.events.length), [2, 2]);
    assert.deepEqual(errors, []);
  });

  test('a single event answered 413 is dropped and reported as too large', async () => {
    const { tracker, server, errors } = setup();
    server.fallback = () => ({ status: 413, body: { error: { code: 'body_too_large', message: 'too big' } } });
    const id = tracker.view('A');
    await tracker.flush();
    assert.equal(server.requests.length, 1);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].kind, 'too_large');
    assert.equal(errors[0].events[0].event_id, id);
  });

  test('a 401 stops sending, reports once, and keeps the events for a later page', async () => {
    const { tracker, clock, server, errors, storage } = setup({ maxBatch: 10 });
    server.replies = [{ status: 401, body: { error: { code: 'unauthorized', message: 'unknown key' } } }];
    const first = tracker.view('A');
    await tracker.flush();
    const second = tracker.view('B');
    await clock.advance(60_000);
    await tracker.flush();
    assert.equal(server.requests.length, 1);
    assert.ok(tracker.isStopped());
    assert.equal(errors.length, 1);
    assert.equal(errors[0].kind, 'unauthorized');
    assert.equal(errors[0].status, 401);
    assert.equal(errors[0].code, 'unauthorized');
    assert.equal(tracker.pending(), 2, 'the refused batch is back in the queue, in front');
    assert.deepEqual(storage.queued().map((e) => e.event_id), [first, second]);

    // The next page, with the key fixed, delivers them with the same ids.
    const next = setup({}, { storage, clock });
    await next.tracker.flush();
    assert.deepEqual(next.server.sentIds(), [first, second]);
  });

  test('a 403 stops sending too', async () => {
    const { tracker, server, errors } = setup();
    server.fallback = () => ({ status: 403, body: { error: { code: 'forbidden' } } });
    tracker.view('A');
    await tracker.flush();
    tracker.view('B');
    await tracker.flush();
    assert.equal(server.requests.length, 1);
    assert.equal(errors[0].kind, 'unauthorized');
    assert.equal(errors[0].status, 403);
  });

  test('other 4xx answers (a wrong endpoint) drop the batch with a report instead of retrying', async () => {
    const { tracker, clock, server, errors } = setup();
    server.fallback = () => ({ status: 404, body: { error: { code: 'not_found', message: 'unknown route' } } });
    tracker.view('A');
    await tracker.flush();
    await clock.advance(60_000);
    assert.equal(server.requests.length, 1);
    assert.deepEqual([errors[0].kind, errors[0].status, errors[0].code], ['failed', 404, 'not_found']);
  });

  test('a throwing onError does not break sending', async () => {
    const { tracker, server } = setup({
      onError: () => {
        throw new Error('boom');
      },
    });
    server.replies = [{ status: 400, body: { errors: [{ index: 0, code: 'x' }] } }];
    tracker.view('A');
    await tracker.flush();
    tracker.view('B');
    await tracker.flush();
    assert.equal(server.requests.length, 2);
  });
});

describe('Retry-After and sizes', () => {
  test('parseRetryAfter reads seconds and HTTP dates', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    assert.equal(parseRetryAfter('1', now), 1000);
    assert.equal(parseRetryAfter(' 2.5 ', now), 2500);
    assert.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30_000);
    assert.equal(parseRetryAfter(new Date(now - 30_000).toUTCString(), now), 0);
    assert.equal(parseRetryAfter('soon', now), null);
    assert.equal(parseRetryAfter(null, now), null);
  });

  test('utf8Length counts bytes, not UTF-16 units', () => {
    assert.equal(utf8Length('abc'), 3);
    assert.equal(utf8Length('é'), 2);
    assert.equal(utf8Length('€'), 3);
    assert.equal(utf8Length('😀'), 4);
    assert.equal(utf8Length('\ud800x'), 4);
  });

  test('chunkBySize keeps every chunk within the limit and the bodies exact', () => {
    const events: TrackedEvent[] = [];
    for (let i = 0; i < 50; i++) events.push({ event_id: `e${i}`, type: 'search', query: '€'.repeat(i * 7) });
    const chunks = chunkBySize(events, 1000);
    assert.ok(chunks.length > 1);
    for (const chunk of chunks) {
      assert.equal(chunk.body, JSON.stringify(chunk.events));
      assert.equal(chunk.bytes, utf8Length(chunk.body));
      assert.ok(chunk.bytes <= 1000 || chunk.events.length === 1);
    }
    assert.deepEqual(chunks.flatMap((c) => c.events), events);
  });
});

// --- page hide ----------------------------------------------------------------------

describe('flushOnHide', () => {
  test('sends the queue with sendBeacon, the key in the URL, as text', () => {
    const beacon = beaconRecorder(true);
    const { tracker, server, storage } = setup({ key: 'pk test/1', sendBeacon: beacon.send });
    const ids = [tracker.view('A'), tracker.addToCart('A')];
    tracker.flushOnHide();
    assert.equal(beacon.calls.length, 1);
    assert.equal(beacon.calls[0].url, 'https://reco.test/v1/events?key=pk%20test%2F1');
    // A string body is what makes the browser send text/plain (no preflight).
    assert.equal(typeof beacon.calls[0].data, 'string');
    assert.deepEqual((JSON.parse(beacon.calls[0].data) as TrackedEvent[]).map((e) => e.event_id), ids);
    assert.equal(server.requests.length, 0);
    assert.equal(tracker.pending(), 0);
    assert.equal(storage.getItem('vitrina.queue'), null);
  });

  test('splits beacon payloads to stay under 64 KB, keeping every event once and in order', () => {
    const beacon = beaconRecorder(true);
    const { tracker } = setup({ sendBeacon: beacon.send, maxBatch: 1000, flushIntervalMs: 60_000 });
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push(tracker.search('€'.repeat(300) + i));
    tracker.flushOnHide();
    assert.ok(beacon.calls.length >= 5, `${beacon.calls.length} beacons`);
    for (const call of beacon.calls) assert.ok(utf8Length(call.data) < 65_536, `${utf8Length(call.data)} bytes`);
    const sent = beacon.calls.flatMap((c) => (JSON.parse(c.data) as TrackedEvent[]).map((e) => e.event_id));
    assert.deepEqual(sent, ids);
  });

  test('falls back to fetch with keepalive when the beacon refuses, keeping the events until it answers', async () => {
    const beacon = beaconRecorder(false);
    const { tracker, server, storage } = setup({ sendBeacon: beacon.send });
    const gate = new Deferred();
    server.replies = [gate];
    const id = tracker.view('A');
    tracker.flushOnHide();
    assert.equal(beacon.calls.length, 1);
    assert.equal(server.requests.length, 1);
    const [req] = server.requests;
    assert.equal(req.url, 'https://reco.test/v1/events?key=pk_test');
    assert.equal(req.init.headers['Content-Type'], 'text/plain;charset=UTF-8');
    assert.equal(req.init.headers.Authorization, undefined, 'a simple request: no preflight at unload');
    assert.equal(req.init.keepalive, true);
    assert.deepEqual(req.events.map((e) => e.event_id), [id]);
    assert.deepEqual(storage.queued().map((e) => e.event_id), [id], 'kept in case the page dies first');
    gate.resolve({ status: 200, body: { accepted: 1 } });
    await drain();
    assert.equal(tracker.pending(), 0);
    assert.equal(storage.getItem('vitrina.queue'), null);
  });

  test('without sendBeacon it uses fetch with keepalive', async () => {
    const { tracker, server } = setup({ sendBeacon: null });
    tracker.view('A');
    tracker.flushOnHide();
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].init.keepalive, true);
    assert.match(server.requests[0].url, /\?key=pk_test$/);
    await drain();
    assert.equal(tracker.pending(), 0);
  });

  test('a failed fallback leaves the events stored, and the next page sends them', async () => {
    const { tracker, server, storage, clock } = setup({ sendBeacon: () => false });
    server.replies = [new TypeError('keepalive quota exceeded')];
    const id = tracker.view('A');
    tracker.flushOnHide();
    await drain();
    assert.deepEqual(storage.queued().map((e) => e.event_id), [id]);
    const next = setup({}, { storage, clock });
    await next.tracker.flush();
    assert.deepEqual(next.server.sentIds(), [id]);
  });

  test('includes a batch that is waiting for a retry', async () => {
    const beacon = beaconRecorder(true);
    const { tracker, clock, server } = setup({ sendBeacon: beacon.send, random: () => 0.5 });
    server.replies = [{ status: 503 }];
    const id = tracker.view('A');
    await clock.advance(1000);
    assert.equal(server.requests.length, 1);
    tracker.flushOnHide();
    assert.deepEqual(JSON.parse(beacon.calls[0].data).map((e: TrackedEvent) => e.event_id), [id]);
  });

  test('install hooks visibilitychange (hidden only) and pagehide, and can be undone', () => {
    const beacon = beaconRecorder(true);
    const { tracker } = setup({ sendBeacon: beacon.send });
    const listeners = new Map<string, Set<() => void>>();
    const on = (type: string, fn: () => void) => {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type)?.add(fn);
    };
    const off = (type: string, fn: () => void) => listeners.get(type)?.delete(fn);
    const fire = (type: string) => listeners.get(type)?.forEach((fn) => fn());
    const doc = { visibilityState: 'visible', addEventListener: on, removeEventListener: off };
    const win = { document: doc, addEventListener: on, removeEventListener: off };
    const uninstall = tracker.install(win);

    tracker.view('A');
    fire('visibilitychange');
    assert.equal(beacon.calls.length, 0, 'becoming visible sends nothing');
    doc.visibilityState = 'hidden';
    fire('visibilitychange');
    assert.equal(beacon.calls.length, 1);
    tracker.view('B');
    fire('pagehide');
    assert.equal(beacon.calls.length, 2);
    fire('pagehide');
    assert.equal(beacon.calls.length, 2, 'nothing left to send');

    uninstall();
    tracker.view('C');
    fire('pagehide');
    fire('visibilitychange');
    assert.equal(beacon.calls.length, 2);
  });
});

// --- persistence ---------------------------------------------------------------------

describe('persistence', () => {
  test('events queued when the page goes away are resent by the next page, with the same ids', async () => {
    const first = setup({ flushIntervalMs: 60_000 });
    const ids = [first.tracker.view('A'), first.tracker.click('B', 'rec_1'), first.tracker.search('mug')];
    const before = first.storage.queued();
    assert.equal(before.length, 3);

    // "Reload": a new tracker on the same storage, nothing of the old one kept.
    const second = setup({}, { storage: first.storage, clock: first.clock });
    await drain();
    assert.equal(second.server.requests.length, 1, 'sent on construction');
    assert.deepEqual(second.server.requests[0].events, before, 'unchanged: ids, timestamps, sessions');
    assert.deepEqual(second.server.sentIds(), ids);
    assert.equal(second.storage.getItem('vitrina.queue'), null);
  });

  test('a batch in the middle of its retries survives a reload', async () => {
    const first = setup({ random: () => 0.5 });
    first.server.fallback = () => ({ status: 503 });
    const id = first.tracker.view('A');
    await first.clock.advance(1000);
    assert.equal(first.server.requests.length, 1);
    assert.deepEqual(first.storage.queued().map((e) => e.event_id), [id]);
    const second = setup({}, { storage: first.storage });
    await second.tracker.flush();
    assert.deepEqual(second.server.sentIds(), [id]);
  });

  test('the queue is bounded: the oldest are dropped and reported', () => {
    const { tracker, storage, errors } = setup({ maxQueue: 5, maxBatch: 100, flushIntervalMs: 60_000 });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(tracker.view(`I${i}`));
    assert.equal(tracker.pending(), 5);
    assert.deepEqual(storage.queued().map((e) => e.event_id), ids.slice(3));
    assert.ok(errors.every((e) => e.kind === 'overflow'));
    assert.deepEqual(errors.flatMap((e) => e.events.map((x) => x.event_id)), ids.slice(0, 3));
  });

  test('two tabs on one storage keep each other\'s unsent events', async () => {
    const storage = new FakeStorage();
    const clock = new FakeClock();
    const a = setup({ flushIntervalMs: 60_000, random: seeded(1) }, { storage, clock });
    const b = setup({ flushIntervalMs: 60_000, random: seeded(2) }, { storage, clock });
    const fromA = a.tracker.view('A');
    const fromB = b.tracker.view('B');
    assert.deepEqual(storage.queued().map((e) => e.event_id).sort(), [fromA, fromB].sort());
    await a.tracker.flush();
    assert.deepEqual(a.server.sentIds(), [fromA]);
    assert.deepEqual(storage.queued().map((e) => e.event_id), [fromB]);
    await b.tracker.flush();
    assert.equal(storage.getItem('vitrina.queue'), null);
  });

  test('a corrupt or throwing storage does not stop tracking', async () => {
    const broken: StorageLike = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => {
        throw new Error('SecurityError');
      },
    };
    const { tracker, server } = setup({ storage: broken });
    const s = tracker.sessionId();
    tracker.view('A');
    await tracker.flush();
    assert.equal(server.requests[0].events[0].session_id, s);

    const garbage = new FakeStorage();
    garbage.setItem('vitrina.queue', '{not json');
    garbage.setItem('vitrina.session', '"nope"');
    const other = setup({}, { storage: garbage });
    assert.equal(other.tracker.pending(), 0);
    assert.match(other.tracker.sessionId(), /^s-[0-9a-z]{16}$/);
  });
});

// --- session and user ----------------------------------------------------------------

describe('session', () => {
  test('is stored, shared by trackers on the same storage, and kept while active', async () => {
    const { tracker, clock, storage } = setup({ sessionTimeoutMs: 30 * 60_000 });
    const id = tracker.sessionId();
    assert.match(id, /^s-[0-9a-z]{16}$/);
    const other = setup({ random: seeded(99) }, { storage, clock });
    assert.equal(other.tracker.sessionId(), id, 'another tab (or page) continues the session');
    clock.t += 20 * 60_000;
    tracker.view('A');
    clock.t += 20 * 60_000;
    tracker.view('B');
    assert.deepEqual(
      storage.queued().map((e) => e.session_id),
      [id, id],
      '40 minutes in all, but never 30 idle',
    );
  });

  test('a new session starts after sessionTimeoutMs idle', () => {
    const { tracker, clock, storage } = setup({ sessionTimeoutMs: 30 * 60_000 });
    tracker.view('A');
    clock.t += 30 * 60_000 - 1;
    tracker.view('B');
    clock.t += 30 * 60_000;
    tracker.view('C');
    const [a, b, c] = storage.queued().map((e) => e.session_id);
    assert.equal(a, b);
    assert.notEqual(b, c);
    assert.equal(JSON.parse(storage.getItem('vitrina.session') as string).id, c);
  });

  test('works without storage, rotating the same way', () => {
    const { tracker, clock } = setup({ storage: null, sessionTimeoutMs: 1000 });
    const a = tracker.sessionId();
    clock.t += 999;
    assert.equal(tracker.sessionId(), a);
    clock.t += 1000;
    assert.notEqual(tracker.sessionId(), a);
  });
});

describe('user', () => {
  test('setUser adds user_id to later events; null removes it; the session stays', () => {
    const { tracker, storage } = setup({ userId: 7 });
    tracker.view('A');
    tracker.setUser('u-2');
    tracker.view('B');
    tracker.setUser(null);
    tracker.view('C');
    const events = storage.queued();
    assert.deepEqual(events.map((e) => e.user_id), ['7', 'u-2', undefined]);
    assert.ok(events.every((e) => e.session_id === events[0].session_id));
    assert.ok(!('user_id' in events[2]), 'absent, not null');
    assert.equal(tracker.getUser(), null);
  });

  test('setUser validates the id', () => {
    const { tracker } = setup();
    assert.throws(() => tracker.setUser(''), (e: unknown) => e instanceof VitrinaFieldError && e.field === 'userId');
  });
});

// --- recommendations --------------------------------------------------------------------

describe('recommend', () => {
  const answer = {
    recommendation_id: 'rec_0123',
    scenario: 'similar',
    snapshot: 3,
    items: [{ item_id: 'B', title: 'Mug', price: 9.5, score: 0.8, model: 'content', reason: 'similar to A', reason_item_id: 'A' }],
  };

  test('asks with the key header, the user, the session and the default context', async () => {
    const { tracker, server } = setup({ userId: 'u-1', context: { device: 'mobile', channel: 'web' } });
    server.fallback = () => ({ status: 200, body: answer });
    const res = await tracker.recommend('similar', { item_id: 'A B', n: 4, in_stock: true });
    assert.deepEqual(res, answer);
    const [req] = server.requests;
    assert.equal(req.init.method, 'GET');
    assert.equal(req.init.headers.Authorization, 'Bearer pk_test');
    const url = new URL(req.url);
    assert.equal(url.origin + url.pathname, 'https://reco.test/v1/recommendations/similar');
    assert.deepEqual(queryOf(url), {
      user_id: 'u-1',
      session_id: tracker.sessionId(),
      item_id: 'A B',
      n: '4',
      in_stock: 'true',
      device: 'mobile',
    });
  });

  test('sends the cart as a comma list, and null leaves the user and session out', async () => {
    const { tracker, server } = setup({ userId: 'u-1' });
    server.fallback = () => ({ status: 200, body: { ...answer, scenario: 'cart' } });
    await tracker.recommend('cart', { items: ['A', 'B'], user_id: null, session_id: null });
    const url = new URL(server.requests[0].url);
    assert.deepEqual(queryOf(url), { items: 'A,B' });
  });

  test('rejects with the server\'s code, field and Retry-After', async () => {
    const { tracker, server } = setup();
    server.replies = [
      { status: 404, body: { error: { code: 'not_found', field: 'scenario', message: 'unknown scenario' } } },
      { status: 503, headers: { 'Retry-After': '2' }, body: { error: { code: 'unavailable', message: 'no snapshot yet' } } },
      new TypeError('Failed to fetch'),
    ];
    await assert.rejects(tracker.recommend('nope'), (e: unknown) => {
      return e instanceof VitrinaError && e.status === 404 && e.code === 'not_found' && e.field === 'scenario';
    });
    await assert.rejects(tracker.recommend('for_you'), (e: unknown) => {
      return e instanceof VitrinaError && e.status === 503 && e.retryAfterMs === 2000;
    });
    await assert.rejects(tracker.recommend('for_you'), (e: unknown) => e instanceof VitrinaError && e.status === 0);
  });
});
