// The browser tracker: records shoppers' events, sends them to Vitrina in
// batches, and reads recommendations. Wire formats: docs/API.md ("Event",
// "Responses to writes", "Errors") and docs/RECOMMENDATIONS.md.

export const EVENT_TYPES = [
  'view',
  'click',
  'add_to_cart',
  'remove_from_cart',
  'purchase',
  'return',
  'search',
  'impression',
  'rating',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const SCENARIOS = [
  'for_you',
  'similar',
  'bought_together',
  'cart',
  'upsell',
  'trending',
  'recently_viewed',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Ids may be given as numbers; they are sent as text, as the server stores them. */
export type Id = string | number;

export interface EventContext {
  device?: string;
  country?: string;
  page?: string;
  channel?: string;
}

export interface Line {
  item_id: Id;
  /** Units, > 0; the server's default is 1. */
  quantity?: number;
  /** Unit price, >= 0. */
  price?: number;
}

/** What `track` accepts: the event's fields in the wire names. `null` and `undefined` mean "not given". */
export interface EventFields {
  event_id?: string | null;
  user_id?: Id | null;
  session_id?: string | null;
  item_id?: Id | null;
  item_ids?: Id[] | null;
  lines?: Line[] | null;
  quantity?: number | null;
  price?: number | null;
  currency?: string | null;
  query?: string | null;
  value?: number | null;
  recommendation_id?: string | null;
  /** ISO 8601 string, a Date, or seconds since the epoch. Default: the moment of `track`. */
  timestamp?: string | Date | number | null;
  context?: EventContext | null;
}

/** An event as it is queued, persisted and sent. */
export interface TrackedEvent {
  event_id: string;
  type: EventType;
  user_id?: string;
  session_id?: string;
  item_id?: string;
  item_ids?: string[];
  lines?: { item_id: string; quantity?: number; price?: number }[];
  quantity?: number;
  price?: number;
  currency?: string;
  query?: string;
  value?: number;
  recommendation_id?: string;
  timestamp?: string | number;
  context?: EventContext;
}

/**
 * Reported through `onError`. `events` were dropped, except for
 * `unauthorized`, where they stay queued (and persisted) for a later page
 * with a working key.
 */
export interface TrackerError {
  kind: 'rejected' | 'gave_up' | 'unauthorized' | 'too_large' | 'overflow' | 'failed';
  message: string;
  events: TrackedEvent[];
  /** HTTP status, absent for network errors and the queue bound. */
  status?: number;
  /** The server's error code (`future_timestamp`, `unauthorized`, ...). */
  code?: string;
  /** The offending field as a path (`lines[2].quantity`), when the server named one. */
  field?: string | null;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  keepalive?: boolean;
}

export interface ResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type FetchLike = (url: string, init: FetchInit) => Promise<ResponseLike>;
export type SendBeaconLike = (url: string, data: string) => boolean;

export interface TrackerOptions {
  /** Base URL of the Vitrina server, e.g. `https://reco.example.com`; `''` (default) is this page's origin. */
  endpoint?: string;
  /** The public key (never the admin key: it ends up in pages and URLs). */
  key: string;
  userId?: Id | null;
  /** How long an event waits for companions before a batch is sent. Default 1000. */
  flushIntervalMs?: number;
  /** Events per request; a full queue is sent at once. Default 100. */
  maxBatch?: number;
  /** Retries of a batch after network errors, 408, 429 and 5xx before it is given up. Default 6. */
  maxRetries?: number;
  /** First retry delay; doubles per retry, with jitter. Default 500. */
  backoffMs?: number;
  /** Cap of a retry delay (a longer Retry-After is still honoured). Default 30000. */
  maxBackoffMs?: number;
  /** Idle time after which a new session id is drawn. Default 30 minutes. */
  sessionTimeoutMs?: number;
  /** Default currency of cart, purchase and return events (ISO 4217, e.g. `EUR`). */
  currency?: string;
  /** Merged into every event's context (an event's own values win), e.g. `{device: 'mobile'}`. */
  context?: EventContext;
  /** Bound of the unsent queue, in memory and in storage; the oldest are dropped beyond it. Default 1000. */
  maxQueue?: number;
  /** Bound of one sendBeacon payload in bytes. Default 61440 (under the browsers' 64 KiB). */
  maxBeaconBytes?: number;
  /** Prefix of the storage keys, for several trackers on one origin. Default `vitrina`. */
  storagePrefix?: string;

  // The environment, injectable for tests and unusual hosts.
  fetch?: FetchLike;
  /** `null` disables the beacon (fetch with keepalive is used instead). */
  sendBeacon?: SendBeaconLike | null;
  /** `null` keeps the queue and session in memory only. Default: localStorage when usable. */
  storage?: StorageLike | null;
  now?: () => number;
  // `any`: timer handles are numbers in browsers and objects in Node.
  setTimeout?: (callback: () => void, ms: number) => any;
  clearTimeout?: (handle: any) => void;
  /** Uniform in [0, 1). Default: crypto.getRandomValues, else Math.random. */
  random?: () => number;
  /** Rejected events, given-up batches, a refused key, the queue bound. Default: console.warn. */
  onError?: (error: TrackerError) => void;
}

export interface RecommendParams {
  /** Default: the tracker's user; `null` leaves it out. */
  user_id?: Id | null;
  /** Default: the tracker's session; `null` leaves it out. */
  session_id?: string | null;
  item_id?: Id | null;
  /** The cart, for the `cart` scenario. */
  items?: Id[] | string | null;
  n?: number | null;
  category?: string | null;
  min_price?: number | null;
  max_price?: number | null;
  in_stock?: boolean | null;
  exclude_purchased?: boolean | null;
  model?: string | null;
  explain?: boolean | null;
  /** Default for device, page and country: the tracker's `context`. */
  device?: string | null;
  page?: string | null;
  country?: string | null;
}

export interface RecommendedItem {
  item_id: string;
  title: string;
  price: number | null;
  score: number;
  model: string;
  reason: string;
  reason_item_id: string | null;
  explored?: boolean;
  propensity?: number;
  sources?: string[];
  rules?: { id: string; name: string; effect: string }[];
  explanation?: { bias: number; features: { name: string; value: number; contribution: number }[] };
}

export interface RecommendationResponse {
  recommendation_id: string;
  scenario: string;
  snapshot: string | number | null;
  ranked_by?: string;
  rules_version?: number;
  items: RecommendedItem[];
}

/** A misused `track` call (or option); `field` names what is wrong. */
export class VitrinaFieldError extends TypeError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`vitrina: ${message}`);
    this.name = 'VitrinaFieldError';
    this.field = field;
  }
}

/** A failed request to the server, with the server's error code when it sent one. */
export class VitrinaError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly field: string | null;
  /** From Retry-After (503 before the first model snapshot). */
  readonly retryAfterMs: number | null;
  constructor(message: string, status: number, code: string | null, field: string | null, retryAfterMs: number | null) {
    super(`vitrina: ${message}`);
    this.name = 'VitrinaError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfterMs = retryAfterMs;
  }
}

const CART_TYPES: ReadonlySet<string> = new Set(['add_to_cart', 'remove_from_cart', 'purchase', 'return']);
const CONTEXT_FIELDS: ReadonlySet<string> = new Set(['device', 'country', 'page', 'channel']);
const LINE_FIELDS: ReadonlySet<string> = new Set(['item_id', 'quantity', 'price']);
// The server accepts these on any event type (docs/API.md, "Event").
const COMMON_FIELDS = ['event_id', 'user_id', 'session_id', 'item_id', 'timestamp', 'context', 'recommendation_id', 'query'];
const TYPE_FIELDS: Record<EventType, readonly string[]> = {
  view: [],
  click: [],
  rating: ['value'],
  search: [],
  impression: ['item_ids'],
  add_to_cart: ['lines', 'quantity', 'price', 'currency'],
  remove_from_cart: ['lines', 'quantity', 'price', 'currency'],
  purchase: ['lines', 'quantity', 'price', 'currency'],
  return: ['lines', 'quantity', 'price', 'currency'],
};

// Server limits (docs/API.md, "Limits"); checking them here turns a
// rejection that would surface later in onError into an immediate throw.
const MAX_ID_BYTES = 256;
const MAX_QUERY_BYTES = 1024;
const MAX_LINES = 10_000;
const MAX_ITEM_IDS = 1000;
const MAX_QUANTITY = 1e9;
const MAX_PRICE = 1e12;
const MAX_ABS_RATING = 1e6;
// Browsers refuse keepalive fetches (and beacons) whose bodies exceed 64 KiB
// in flight; a larger batch is sent as a plain fetch instead.
const KEEPALIVE_LIMIT = 65_536;

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export class Tracker {
  readonly endpoint: string;
  private readonly key: string;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly sessionTimeoutMs: number;
  private readonly maxQueue: number;
  private readonly maxBeaconBytes: number;
  private readonly currency: string | undefined;
  private readonly context: EventContext;
  private readonly queueKey: string;
  private readonly sessionKey: string;

  private readonly fetchFn: FetchLike | null;
  private readonly beaconFn: SendBeaconLike | null;
  private readonly storage: StorageLike | null;
  private readonly now: () => number;
  private readonly setTimer: (callback: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly random: () => number;
  private readonly onError: (error: TrackerError) => void;

  private userId: string | null;
  private session: { id: string; last: number } | null = null;
  /** Tracked, not yet taken by the sender. */
  private queue: TrackedEvent[] = [];
  /** Taken by the sender and not yet settled (acknowledged, rejected or given up). */
  private inflight: TrackedEvent[] = [];
  /** Ids settled since the last write of storage, so that write removes them. */
  private settledIds = new Set<string>();
  private batchSize: number;
  private timer: unknown = null;
  private pumping: Promise<void> | null = null;
  private stopped = false;

  constructor(options: TrackerOptions) {
    if (!options || typeof options.key !== 'string' || options.key === '') {
      throw new VitrinaFieldError('key', 'key (the public key) is required');
    }
    this.key = options.key;
    this.endpoint = (options.endpoint ?? '').replace(/\/+$/, '');
    this.flushIntervalMs = count(options.flushIntervalMs, 1000, 0, 'flushIntervalMs');
    this.maxBatch = count(options.maxBatch, 100, 1, 'maxBatch');
    this.maxRetries = count(options.maxRetries, 6, 0, 'maxRetries');
    this.backoffMs = count(options.backoffMs, 500, 0, 'backoffMs');
    this.maxBackoffMs = count(options.maxBackoffMs, 30_000, 0, 'maxBackoffMs');
    this.sessionTimeoutMs = count(options.sessionTimeoutMs, 30 * 60_000, 1, 'sessionTimeoutMs');
    this.maxQueue = count(options.maxQueue, 1000, 1, 'maxQueue');
    this.maxBeaconBytes = count(options.maxBeaconBytes, 61_440, 64, 'maxBeaconBytes');
    this.batchSize = this.maxBatch;
    this.currency = options.currency == null ? undefined : checkCurrency(options.currency, 'currency');
    this.context = checkContext(options.context ?? {}, 'context');
    this.userId = options.userId == null ? null : checkId(options.userId, 'userId');
    const prefix = options.storagePrefix ?? 'vitrina';
    this.queueKey = `${prefix}.queue`;
    this.sessionKey = `${prefix}.session`;

    // Host functions are called detached from their objects (fetch,
    // setTimeout and sendBeacon throw "Illegal invocation" when called as
    // methods of something else), hence the wrappers.
    const fetchImpl = options.fetch ?? (typeof fetch === 'function' ? (fetch as unknown as FetchLike) : null);
    this.fetchFn = fetchImpl ? (url, init) => fetchImpl(url, init) : null;
    this.beaconFn = options.sendBeacon === undefined ? defaultBeacon() : options.sendBeacon;
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    const now = options.now ?? Date.now;
    this.now = () => now();
    const set = options.setTimeout ?? ((cb: () => void, ms: number) => setTimeout(cb, ms));
    const clear = options.clearTimeout ?? ((handle: unknown) => clearTimeout(handle as number));
    this.setTimer = (cb, ms) => set(cb, ms);
    this.clearTimer = (handle) => clear(handle);
    this.random = options.random ?? defaultRandom();
    this.onError = options.onError ?? defaultOnError;

    // Events a previous page could not deliver (closed offline, or during a
    // retry); resending is safe because their event_ids make it idempotent.
    this.queue = this.readStoredQueue().slice(-this.maxQueue);
    if (this.queue.length > 0) void this.flush();
  }

  /** Queues an event; returns its event_id. Throws VitrinaFieldError (a TypeError) naming the bad field. */
  track(type: EventType, fields: EventFields = {}): string {
    const event = this.buildEvent(type, fields);
    this.queue.push(event);
    const excess = this.inflight.length + this.queue.length - this.maxQueue;
    if (excess > 0) {
      const dropped = this.queue.splice(0, Math.min(excess, this.queue.length));
      for (const e of dropped) this.settledIds.add(e.event_id);
      this.report({
        kind: 'overflow',
        message: `the queue holds at most ${this.maxQueue} events; dropped the ${dropped.length} oldest`,
        events: dropped,
      });
    }
    this.persist();
    if (!this.stopped) {
      if (this.queue.length >= this.batchSize) void this.flush();
      else this.scheduleFlush();
    }
    return event.event_id;
  }

  view(itemId: Id, extra?: EventFields): string {
    return this.track('view', { ...extra, item_id: itemId });
  }

  click(itemId: Id, recommendationId?: string | null, extra?: EventFields): string {
    return this.track('click', { ...extra, item_id: itemId, recommendation_id: recommendationId ?? extra?.recommendation_id });
  }

  addToCart(itemId: Id, quantity = 1, price?: number, extra?: EventFields): string {
    return this.track('add_to_cart', { ...extra, item_id: itemId, quantity, price });
  }

  removeFromCart(itemId: Id, quantity = 1, price?: number, extra?: EventFields): string {
    return this.track('remove_from_cart', { ...extra, item_id: itemId, quantity, price });
  }

  /** Give `extra.event_id` (say `'ord-' + orderId`) to make a purchase idempotent across pages too. */
  purchase(lines: Line[], extra?: EventFields): string {
    return this.track('purchase', { ...extra, lines });
  }

  search(query: string, extra?: EventFields): string {
    return this.track('search', { ...extra, query });
  }

  impression(itemIds: Id[], recommendationId?: string | null, extra?: EventFields): string {
    return this.track('impression', {
      ...extra,
      item_ids: itemIds,
      recommendation_id: recommendationId ?? extra?.recommendation_id,
    });
  }

  /** The user for later events (and recommendations); `null` after logout. Not persisted: pass it on each page. */
  setUser(userId: Id | null): void {
    this.userId = userId == null ? null : checkId(userId, 'userId');
  }

  getUser(): string | null {
    return this.userId;
  }

  /**
   * The current session id, shared by the tabs of one origin through
   * storage; a new one is drawn after sessionTimeoutMs without activity.
   * Each call counts as activity.
   */
  sessionId(): string {
    const now = this.now();
    const stored = this.readSession();
    let current = stored ?? this.session;
    // A clock set back (now < last) keeps the session rather than splitting it.
    if (!current || now - current.last >= this.sessionTimeoutMs) {
      current = { id: 's-' + randomId(this.random, 16), last: now };
    }
    this.session = { id: current.id, last: Math.max(now, current.last) };
    this.storageSet(this.sessionKey, JSON.stringify(this.session));
    return this.session.id;
  }

  /** Events tracked and not yet acknowledged (queued or being sent). */
  pending(): number {
    return this.inflight.length + this.queue.length;
  }

  /** Whether a 401 or 403 stopped sending. */
  isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Sends everything queued, in batches of maxBatch, one request at a time;
   * resolves when the queue is empty (delivered, rejected or given up) or
   * sending has stopped. Never rejects: failures go to onError.
   */
  flush(): Promise<void> {
    this.cancelFlushTimer();
    if (this.pumping) return this.pumping;
    if (this.stopped || this.queue.length === 0) return Promise.resolve();
    const run = async (): Promise<void> => {
      try {
        while (!this.stopped && this.queue.length > 0) {
          const batch = this.queue.splice(0, this.batchSize);
          this.inflight = batch.slice();
          await this.deliver(batch);
          if (this.stopped) {
            // Unsettled events go back in front, in order, for a later page.
            this.queue = this.inflight.concat(this.queue);
          }
          this.inflight = [];
          this.persist();
        }
      } finally {
        // Runs synchronously after the loop's last check, so a track() that
        // finds `pumping` set can count on this loop taking its event.
        this.pumping = null;
      }
    };
    this.pumping = run();
    return this.pumping;
  }

  /**
   * For a page being hidden or unloaded: hands everything unsent to
   * navigator.sendBeacon (in payloads under maxBeaconBytes), which the
   * browser delivers after the page is gone. A payload the beacon refuses
   * goes by fetch with keepalive and stays queued (and persisted) until that
   * answers, so a page that dies first resends it on the next load.
   */
  flushOnHide(): void {
    this.cancelFlushTimer();
    if (this.stopped) return;
    // The batch being sent or waiting for a retry goes too: if the page dies
    // the retry never happens, and a duplicate is harmless.
    const events = dedupe(this.inflight.concat(this.queue));
    if (events.length === 0) return;
    for (const chunk of chunkBySize(events, this.maxBeaconBytes)) {
      if (chunk.bytes <= this.maxBeaconBytes && this.beaconFn) {
        let accepted = false;
        try {
          accepted = this.beaconFn(this.urlKeyedEventsUrl(), chunk.body);
        } catch {
          accepted = false;
        }
        if (accepted) {
          this.settle(chunk.events);
          continue;
        }
      }
      void this.post(chunk.events, chunk.body, true).then((outcome) => {
        if (outcome.kind === 'stop') this.stopSending(outcome, chunk.events);
        else if (outcome.kind !== 'done') this.scheduleFlush();
        this.persist();
      });
    }
    this.persist();
  }

  /**
   * Hooks a window: `visibilitychange` to hidden and `pagehide` call
   * flushOnHide. Returns a function that removes the hooks.
   */
  install(target?: InstallTarget): () => void {
    const win = target ?? (globalThis as unknown as InstallTarget);
    if (!win || typeof win.addEventListener !== 'function') {
      throw new VitrinaFieldError('target', 'install needs a window (or an object with addEventListener)');
    }
    const doc = win.document;
    const onVisibility = (): void => {
      if (doc && doc.visibilityState === 'hidden') this.flushOnHide();
    };
    const onPageHide = (): void => this.flushOnHide();
    (doc ?? win).addEventListener('visibilitychange', onVisibility);
    win.addEventListener('pagehide', onPageHide);
    return () => {
      (doc ?? win).removeEventListener?.('visibilitychange', onVisibility);
      win.removeEventListener?.('pagehide', onPageHide);
    };
  }

  /**
   * GET /v1/recommendations/{scenario}. The tracker's user, session and
   * context (device, page, country) are sent unless params override them.
   * Rejects with VitrinaError on an error answer or a network failure.
   */
  async recommend(scenario: Scenario | string, params: RecommendParams = {}): Promise<RecommendationResponse> {
    if (typeof scenario !== 'string' || scenario === '') {
      throw new VitrinaFieldError('scenario', 'scenario must be a non-empty string such as "for_you"');
    }
    const query: [string, string][] = [];
    const add = (name: string, value: unknown): void => {
      if (value === undefined || value === null || value === '') return;
      query.push([name, Array.isArray(value) ? value.map(String).join(',') : String(value)]);
    };
    add('user_id', params.user_id === undefined ? this.userId : params.user_id);
    add('session_id', params.session_id === undefined ? this.sessionId() : params.session_id);
    add('item_id', params.item_id);
    add('items', params.items);
    add('n', params.n);
    add('category', params.category);
    add('min_price', params.min_price);
    add('max_price', params.max_price);
    add('in_stock', params.in_stock);
    add('exclude_purchased', params.exclude_purchased);
    add('model', params.model);
    add('explain', params.explain);
    add('device', params.device === undefined ? this.context.device : params.device);
    add('page', params.page === undefined ? this.context.page : params.page);
    add('country', params.country === undefined ? this.context.country : params.country);
    const search = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    const url = `${this.endpoint}/v1/recommendations/${encodeURIComponent(scenario)}${search ? '?' + search : ''}`;
    if (!this.fetchFn) throw new VitrinaError('no fetch in this environment', 0, null, null, null);
    let res: ResponseLike;
    try {
      res = await this.fetchFn(url, { method: 'GET', headers: { Authorization: `Bearer ${this.key}` } });
    } catch (err) {
      throw new VitrinaError(`network error: ${describe(err)}`, 0, null, null, null);
    }
    const body = await readJson(res);
    if (res.status < 200 || res.status >= 300) {
      const error = errorObject(body);
      throw new VitrinaError(
        error.message ?? `HTTP ${res.status}`,
        res.status,
        error.code ?? null,
        error.field ?? null,
        parseRetryAfter(res.headers.get('Retry-After'), this.now()),
      );
    }
    if (!isObject(body) || !Array.isArray(body.items)) {
      throw new VitrinaError('the answer is not a recommendation list', res.status, null, null, null);
    }
    return body as unknown as RecommendationResponse;
  }

  // --- building events -----------------------------------------------------

  private buildEvent(type: EventType, input: EventFields): TrackedEvent {
    if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
      throw new VitrinaFieldError('type', `type ${JSON.stringify(type)} is not one of ${EVENT_TYPES.join(', ')}`);
    }
    if (input === null || typeof input !== 'object') {
      throw new VitrinaFieldError('fields', 'the event fields must be an object');
    }
    const allowed = new Set([...COMMON_FIELDS, ...TYPE_FIELDS[type]]);
    const f: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(input)) {
      if (value === undefined || value === null) continue;
      if (!allowed.has(name)) {
        const snake = name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
        const hint = snake !== name && allowed.has(snake) ? `; did you mean ${snake}?` : '';
        throw new VitrinaFieldError(name, `${name} is not a field of ${type} events${hint}`);
      }
      f[name] = value;
    }

    const event: TrackedEvent = { event_id: '', type };
    if (f.event_id !== undefined) {
      event.event_id = checkId(f.event_id, 'event_id');
      if (event.event_id.startsWith('~')) {
        throw new VitrinaFieldError('event_id', "event_id must not start with '~' (the server's prefix for ids it assigns)");
      }
    } else {
      event.event_id = 'c-' + randomId(this.random, 20);
    }
    const userId = f.user_id !== undefined ? checkId(f.user_id, 'user_id') : this.userId;
    if (userId !== null) event.user_id = userId;
    event.session_id = f.session_id !== undefined ? checkId(f.session_id, 'session_id') : this.sessionId();

    if (f.item_id !== undefined) event.item_id = checkId(f.item_id, 'item_id');
    if (type === 'view' || type === 'click' || type === 'rating') {
      if (event.item_id === undefined) throw new VitrinaFieldError('item_id', `item_id is required for ${type} events`);
    }
    if (type === 'rating') {
      if (f.value === undefined) throw new VitrinaFieldError('value', 'value (a number) is required for rating events');
      event.value = checkNumber(f.value, 'value', -MAX_ABS_RATING, MAX_ABS_RATING, true);
    }
    if (CART_TYPES.has(type)) this.buildLines(type, f, event);
    if (type === 'impression') {
      if (f.item_ids === undefined) throw new VitrinaFieldError('item_ids', 'item_ids (the items shown) is required for impression events');
      if (!Array.isArray(f.item_ids) || f.item_ids.length === 0 || f.item_ids.length > MAX_ITEM_IDS) {
        throw new VitrinaFieldError('item_ids', `item_ids must be a list of 1 to ${MAX_ITEM_IDS} item ids`);
      }
      event.item_ids = f.item_ids.map((id, i) => checkId(id, `item_ids[${i}]`));
    }
    if (f.query !== undefined) event.query = checkText(f.query, 'query', MAX_QUERY_BYTES);
    if (type === 'search' && (event.query === undefined || event.query.trim() === '')) {
      throw new VitrinaFieldError('query', 'query (non-empty) is required for search events');
    }
    if (f.recommendation_id !== undefined) event.recommendation_id = checkId(f.recommendation_id, 'recommendation_id');
    event.timestamp = f.timestamp !== undefined ? checkTimestamp(f.timestamp) : new Date(this.now()).toISOString();
    const context = { ...this.context, ...checkContext(f.context ?? {}, 'context') };
    if (Object.keys(context).length > 0) event.context = context;
    return event;
  }

  private buildLines(type: EventType, f: Record<string, unknown>, event: TrackedEvent): void {
    const currency = f.currency !== undefined ? checkCurrency(f.currency, 'currency') : this.currency;
    if (currency !== undefined) event.currency = currency;
    if (f.lines !== undefined) {
      // The server refuses the mix rather than guess which was meant.
      for (const name of ['item_id', 'quantity', 'price']) {
        if (f[name] !== undefined) throw new VitrinaFieldError(name, `give either lines or ${name}, not both`);
      }
      if (!Array.isArray(f.lines) || f.lines.length === 0 || f.lines.length > MAX_LINES) {
        throw new VitrinaFieldError('lines', `lines must be a list of 1 to ${MAX_LINES} lines`);
      }
      event.lines = f.lines.map((raw: unknown, i) => {
        const prefix = `lines[${i}]`;
        if (!isObject(raw)) throw new VitrinaFieldError(prefix, `${prefix} must be an object {item_id, quantity, price}`);
        for (const name of Object.keys(raw)) {
          if (!LINE_FIELDS.has(name) && raw[name] !== undefined) {
            throw new VitrinaFieldError(`${prefix}.${name}`, `${prefix}.${name} is not a field of a line (item_id, quantity, price)`);
          }
        }
        if (raw.item_id == null) throw new VitrinaFieldError(`${prefix}.item_id`, `${prefix}.item_id is required`);
        const line: { item_id: string; quantity?: number; price?: number } = { item_id: checkId(raw.item_id, `${prefix}.item_id`) };
        if (raw.quantity != null) line.quantity = checkNumber(raw.quantity, `${prefix}.quantity`, 0, MAX_QUANTITY, false);
        if (raw.price != null) line.price = checkNumber(raw.price, `${prefix}.price`, 0, MAX_PRICE, true);
        return line;
      });
      return;
    }
    if (event.item_id === undefined) {
      throw new VitrinaFieldError('item_id', `item_id (or lines) is required for ${type} events`);
    }
    if (f.quantity !== undefined) event.quantity = checkNumber(f.quantity, 'quantity', 0, MAX_QUANTITY, false);
    if (f.price !== undefined) event.price = checkNumber(f.price, 'price', 0, MAX_PRICE, true);
  }

  // --- sending ----------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.timer !== null || this.stopped || this.queue.length === 0) return;
    this.timer = this.setTimer(() => {
      this.timer = null;
      void this.flush();
    }, this.flushIntervalMs);
  }

  private cancelFlushTimer(): void {
    if (this.timer === null) return;
    this.clearTimer(this.timer);
    this.timer = null;
  }

  /** Sends one batch until it is settled, split, given up, or sending stops. */
  private async deliver(batch: TrackedEvent[]): Promise<void> {
    for (let retry = 0; ; retry++) {
      if (this.stopped) return;
      const outcome = await this.post(batch, JSON.stringify(batch), false);
      switch (outcome.kind) {
        case 'done':
          return;
        case 'stop':
          this.stopSending(outcome, batch);
          return;
        case 'split': {
          if (batch.length === 1) {
            this.settle(batch);
            this.report({ kind: 'too_large', message: outcome.message, status: 413, code: outcome.code, events: batch });
            return;
          }
          // Later batches start from the size that is known to be too big
          // halved, rather than paying a 413 each time.
          const half = Math.ceil(batch.length / 2);
          this.batchSize = Math.min(this.batchSize, half);
          await this.deliver(batch.slice(0, half));
          await this.deliver(batch.slice(half));
          return;
        }
        case 'retry':
          if (retry >= this.maxRetries) {
            this.settle(batch);
            this.report({
              kind: 'gave_up',
              message: `gave up after ${retry + 1} attempts: ${outcome.message}`,
              status: outcome.status,
              events: batch,
            });
            return;
          }
          await this.sleep(this.retryDelay(retry + 1, outcome.retryAfterMs));
      }
    }
  }

  /** Delay before retry number `retry` (1-based): exponential, jittered, capped; never before Retry-After. */
  private retryDelay(retry: number, retryAfterMs?: number): number {
    const base = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (retry - 1));
    // "Equal jitter": half fixed, half random, so delays still grow while
    // clients that failed together spread out.
    const jittered = Math.round(base * (0.5 + 0.5 * this.random()));
    return Math.max(jittered, retryAfterMs ?? 0);
  }

  /**
   * One POST of a batch, classified. Settles and reports what the answer
   * settles (200, 207, 400, other 4xx); leaves retries, splits and stops to
   * the caller. `urlKey`: the key in the URL and text/plain, a request the
   * browser sends without a CORS preflight, for pages being unloaded.
   */
  private async post(batch: TrackedEvent[], body: string, urlKey: boolean): Promise<Outcome> {
    if (!this.fetchFn) return { kind: 'retry', message: 'no fetch in this environment' };
    const url = urlKey ? this.urlKeyedEventsUrl() : `${this.endpoint}/v1/events`;
    const headers: Record<string, string> = urlKey
      ? { 'Content-Type': 'text/plain;charset=UTF-8' }
      : { 'Content-Type': 'application/json', Authorization: `Bearer ${this.key}` };
    let res: ResponseLike;
    try {
      res = await this.fetchFn(url, { method: 'POST', headers, body, keepalive: utf8Length(body) <= KEEPALIVE_LIMIT });
    } catch (err) {
      return { kind: 'retry', message: `network error: ${describe(err)}` };
    }
    const status = res.status;
    if (status === 207 || status === 400) {
      this.settle(batch);
      const answer = await readJson(res);
      const errors = isObject(answer) && Array.isArray(answer.errors) ? answer.errors : null;
      if (errors && errors.length > 0) {
        for (const raw of errors) {
          if (!isObject(raw) || typeof raw.index !== 'number' || !batch[raw.index]) continue;
          this.report({
            kind: 'rejected',
            message: typeof raw.message === 'string' ? raw.message : 'rejected',
            status,
            code: typeof raw.code === 'string' ? raw.code : undefined,
            field: typeof raw.field === 'string' ? raw.field : null,
            events: [batch[raw.index]],
          });
        }
      } else if (status === 400) {
        // The whole body was refused (invalid_json, invalid_body): no per-record errors.
        const error = errorObject(answer);
        this.report({
          kind: 'rejected',
          message: error.message ?? 'the batch was rejected',
          status,
          code: error.code,
          field: error.field ?? null,
          events: batch,
        });
      }
      return { kind: 'done' };
    }
    if (status >= 200 && status < 300) {
      this.settle(batch);
      return { kind: 'done' };
    }
    if (status === 413) {
      const error = errorObject(await readJson(res));
      return { kind: 'split', message: error.message ?? 'request too large', code: error.code ?? 'body_too_large' };
    }
    if (status === 401 || status === 403) {
      const error = errorObject(await readJson(res));
      return { kind: 'stop', status, message: error.message ?? `HTTP ${status}`, code: error.code };
    }
    if (status === 408 || status === 429 || status >= 500) {
      return {
        kind: 'retry',
        status,
        message: `HTTP ${status}`,
        retryAfterMs: parseRetryAfter(res.headers.get('Retry-After'), this.now()) ?? undefined,
      };
    }
    // 404, 405, 415, ...: a misconfigured endpoint; the same request would fail again.
    this.settle(batch);
    const error = errorObject(await readJson(res));
    this.report({ kind: 'failed', message: error.message ?? `HTTP ${status}`, status, code: error.code, events: batch });
    return { kind: 'done' };
  }

  private stopSending(outcome: { status: number; message: string; code?: string }, events: TrackedEvent[]): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelFlushTimer();
    this.report({
      kind: 'unauthorized',
      message: `the server refused the key (${outcome.message}); sending stopped, events stay queued`,
      status: outcome.status,
      code: outcome.code,
      events,
    });
  }

  private urlKeyedEventsUrl(): string {
    return `${this.endpoint}/v1/events?key=${encodeURIComponent(this.key)}`;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.setTimer(resolve, ms);
    });
  }

  private settle(events: TrackedEvent[]): void {
    const ids = new Set(events.map((e) => e.event_id));
    for (const id of ids) this.settledIds.add(id);
    this.inflight = this.inflight.filter((e) => !ids.has(e.event_id));
    this.queue = this.queue.filter((e) => !ids.has(e.event_id));
  }

  private report(error: TrackerError): void {
    try {
      this.onError(error);
    } catch {
      // A throwing callback must not break the sender.
    }
  }

  // --- storage ------------------------------------------------------------------

  /**
   * Writes the unsent events. Other tabs of the origin share the key, so
   * their entries are kept (merged by event_id) unless this tab settled
   * them; at worst an event is sent twice, which its event_id makes harmless.
   */
  private persist(): void {
    if (!this.storage) return;
    const mine = this.inflight.concat(this.queue);
    const mineIds = new Set(mine.map((e) => e.event_id));
    const others = this.readStoredQueue().filter((e) => !mineIds.has(e.event_id) && !this.settledIds.has(e.event_id));
    this.settledIds.clear();
    let all = others.concat(mine);
    if (all.length > this.maxQueue) all = all.slice(all.length - this.maxQueue);
    if (all.length === 0) this.storageRemove(this.queueKey);
    else this.storageSet(this.queueKey, JSON.stringify(all));
  }

  private readStoredQueue(): TrackedEvent[] {
    const raw = this.storageGet(this.queueKey);
    if (!raw) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      if (!Array.isArray(parsed)) return [];
      return parsed.filter(
        (e): e is TrackedEvent =>
          isObject(e) && typeof e.event_id === 'string' && (EVENT_TYPES as readonly unknown[]).includes(e.type),
      );
    } catch {
      return [];
    }
  }

  private readSession(): { id: string; last: number } | null {
    const raw = this.storageGet(this.sessionKey);
    if (!raw) return null;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (isObject(parsed) && typeof parsed.id === 'string' && parsed.id !== '' && typeof parsed.last === 'number') {
        return { id: parsed.id, last: parsed.last };
      }
    } catch {
      // A corrupt entry is replaced by a new session.
    }
    return null;
  }

  // Storage can throw (Safari's private mode, a full quota, a sandboxed
  // frame); the tracker then works from memory.
  private storageGet(key: string): string | null {
    try {
      return this.storage ? this.storage.getItem(key) : null;
    } catch {
      return null;
    }
  }

  private storageSet(key: string, value: string): void {
    try {
      this.storage?.setItem(key, value);
    } catch {
      // see storageGet
    }
  }

  private storageRemove(key: string): void {
    try {
      this.storage?.removeItem(key);
    } catch {
      // see storageGet
    }
  }
}

/** What `install` needs of a window. */
export interface InstallTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener?(type: string, listener: () => void): void;
  document?: {
    visibilityState?: string;
    addEventListener(type: string, listener: () => void): void;
    removeEventListener?(type: string, listener: () => void): void;
  };
}

type Outcome =
  | { kind: 'done' }
  | { kind: 'retry'; message: string; status?: number; retryAfterMs?: number }
  | { kind: 'split'; message: string; code: string }
  | { kind: 'stop'; status: number; message: string; code?: string };

// --- helpers --------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function count(value: number | undefined, fallback: number, min: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new VitrinaFieldError(name, `${name} must be a number >= ${min}`);
  }
  return Math.floor(value);
}

function checkId(value: unknown, field: string): string {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || text === '') {
    throw new VitrinaFieldError(field, `${field} must be a non-empty string`);
  }
  if (utf8Length(text) > MAX_ID_BYTES) throw new VitrinaFieldError(field, `${field} must be at most ${MAX_ID_BYTES} bytes`);
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new VitrinaFieldError(field, `${field} must not contain control characters`);
  return text;
}

function checkText(value: unknown, field: string, maxBytes: number): string {
  if (typeof value !== 'string') throw new VitrinaFieldError(field, `${field} must be a string`);
  if (utf8Length(value) > maxBytes) throw new VitrinaFieldError(field, `${field} must be at most ${maxBytes} bytes`);
  return value;
}

function checkNumber(value: unknown, field: string, min: number, max: number, minInclusive: boolean): number {
  const ok =
    typeof value === 'number' && Number.isFinite(value) && (minInclusive ? value >= min : value > min) && value <= max;
  if (!ok) {
    throw new VitrinaFieldError(field, `${field} must be a number ${minInclusive ? '>=' : '>'} ${min} and <= ${max}`);
  }
  return value as number;
}

function checkCurrency(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[A-Z]{3}$/.test(value)) {
    throw new VitrinaFieldError(field, `${field} must be a three-letter ISO 4217 code in capitals, such as "EUR"`);
  }
  return value;
}

function checkContext(value: unknown, field: string): EventContext {
  if (!isObject(value)) throw new VitrinaFieldError(field, `${field} must be an object {device, country, page, channel}`);
  const context: EventContext = {};
  for (const [name, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    if (!CONTEXT_FIELDS.has(name)) {
      throw new VitrinaFieldError(`${field}.${name}`, `${field}.${name} is not a context field (device, country, page, channel)`);
    }
    if (typeof v !== 'string') throw new VitrinaFieldError(`${field}.${name}`, `${field}.${name} must be a string`);
    context[name as keyof EventContext] = v;
  }
  return context;
}

function checkTimestamp(value: unknown): string | number {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new VitrinaFieldError('timestamp', 'timestamp is an invalid Date');
    return value.toISOString();
  }
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Date.now() passed by mistake would be refused by the server much later.
    if (Math.abs(value) > 1e11) {
      throw new VitrinaFieldError('timestamp', 'timestamp numbers are seconds since the epoch, not milliseconds');
    }
    return value;
  }
  throw new VitrinaFieldError('timestamp', 'timestamp must be an ISO 8601 string, a Date, or seconds since the epoch');
}

function randomId(random: () => number, length: number): string {
  let id = '';
  for (let i = 0; i < length; i++) id += ALPHABET[Math.floor(random() * ALPHABET.length) % ALPHABET.length];
  return id;
}

function defaultRandom(): () => number {
  // event_ids are deduplicated server-wide, so two shoppers' ids must not
  // collide: prefer the cryptographic generator to Math.random.
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  if (c && typeof c.getRandomValues === 'function') {
    const getRandomValues = c.getRandomValues.bind(c);
    const buf = new Uint32Array(1);
    return () => {
      getRandomValues(buf);
      return buf[0] / 4_294_967_296;
    };
  }
  return Math.random;
}

function defaultBeacon(): SendBeaconLike | null {
  const nav = (globalThis as { navigator?: { sendBeacon?: (url: string, data: string) => boolean } }).navigator;
  if (!nav || typeof nav.sendBeacon !== 'function') return null;
  const send = nav.sendBeacon;
  return (url, data) => send.call(nav, url, data);
}

function defaultStorage(): StorageLike | null {
  try {
    // Reading localStorage itself throws where cookies are blocked.
    const storage = (globalThis as { localStorage?: StorageLike }).localStorage;
    return storage ?? null;
  } catch {
    return null;
  }
}

function defaultOnError(error: TrackerError): void {
  if (typeof console !== 'undefined') console.warn(`vitrina: ${error.kind}: ${error.message}`, error.events);
}

function dedupe(events: TrackedEvent[]): TrackedEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    if (seen.has(e.event_id)) return false;
    seen.add(e.event_id);
    return true;
  });
}

async function readJson(res: ResponseLike): Promise<unknown> {
  try {
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** The `error` object of an error answer (docs/API.md, "Errors"). */
function errorObject(body: unknown): { code?: string; message?: string; field?: string } {
  const error = isObject(body) && isObject(body.error) ? body.error : {};
  return {
    code: typeof error.code === 'string' ? error.code : undefined,
    message: typeof error.message === 'string' ? error.message : undefined,
    field: typeof error.field === 'string' ? error.field : undefined,
  };
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Bytes of the UTF-8 encoding, which is what size limits count. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bytes += 3; // a lone surrogate is encoded as U+FFFD
      }
    } else bytes += 3;
  }
  return bytes;
}

/** Splits events into JSON arrays of at most `limit` bytes (an event larger than that goes alone). */
export function chunkBySize(events: TrackedEvent[], limit: number): { events: TrackedEvent[]; body: string; bytes: number }[] {
  const chunks: { events: TrackedEvent[]; body: string; bytes: number }[] = [];
  let current: TrackedEvent[] = [];
  let parts: string[] = [];
  let bytes = 2; // the brackets
  const close = (): void => {
    if (current.length === 0) return;
    chunks.push({ events: current, body: '[' + parts.join(',') + ']', bytes });
    current = [];
    parts = [];
    bytes = 2;
  };
  for (const event of events) {
    const json = JSON.stringify(event);
    const size = utf8Length(json);
    const added = size + (current.length > 0 ? 1 : 0);
    if (current.length > 0 && bytes + added > limit) close();
    bytes += size + (current.length > 0 ? 1 : 0);
    current.push(event);
    parts.push(json);
  }
  close();
  return chunks;
}
