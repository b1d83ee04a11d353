// A plain recommendation list: rendering, and the impression and click
// events that let the server credit the list (docs/RECOMMENDATIONS.md: send
// the recommendation_id back). Uses a small DOM surface so that it runs with
// any document, including the fakes in the tests.

import type { Id, RecommendationResponse, RecommendedItem, RecommendParams } from './tracker.js';

export interface WidgetEvent {
  preventDefault(): void;
  button?: number;
  ctrlKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
  altKey?: boolean;
}

/** The part of an element the widget uses. */
export interface WidgetElement {
  textContent: string | null;
  className: string;
  setAttribute(name: string, value: string): void;
  // Typed loosely so that a real HTMLElement (whose appendChild takes any
  // Node) fits; the widget only ever appends its own elements.
  appendChild(child: { textContent: string | null }): unknown;
  addEventListener(type: string, listener: (event: WidgetEvent) => void): void;
}

export interface WidgetDocument {
  createElement(tagName: string): WidgetElement;
}

/** What rendering records events with; a Tracker is one. */
export interface WidgetTracker {
  impression(itemIds: Id[], recommendationId?: string | null): unknown;
  click(itemId: Id, recommendationId?: string | null): unknown;
}

/** What loadWidget needs: a Tracker. */
export interface WidgetSource extends WidgetTracker {
  recommend(scenario: string, params?: RecommendParams): Promise<RecommendationResponse>;
}

export interface WidgetOptions {
  /** Records the impression and the clicks; without it nothing is recorded. loadWidget sets it. */
  tracker?: WidgetTracker;
  /** Default: the global document. */
  document?: WidgetDocument;
  /** The item's link; default '#'. javascript:, vbscript: and data: URLs are replaced by '#'. */
  itemUrl?: (item: RecommendedItem) => string;
  /** Called on a plain click instead of following the link (single-page apps). */
  onSelect?: (item: RecommendedItem, event: WidgetEvent) => void;
  /** Default: Intl currency format when `currency` is given, else two decimals. */
  formatPrice?: (price: number, item: RecommendedItem) => string;
  currency?: string;
  locale?: string;
  /** A heading above the list. */
  heading?: string;
  /** Show each item's reason as a caption (it is always the item's title attribute). Default true. */
  showReason?: boolean;
  emptyText?: string;
  errorText?: string;
  /** loadWidget: the request failed (the error state is shown either way). */
  onError?: (error: unknown) => void;
}

const DEFAULT_EMPTY = 'No recommendations yet.';
const DEFAULT_ERROR = 'Recommendations are unavailable right now.';

/**
 * Replaces the container's content with the list, and records an
 * impression of the items shown. Every text goes through textContent, so
 * catalog titles and reasons can never inject markup.
 */
export function renderRecommendations(
  container: WidgetElement,
  response: RecommendationResponse,
  options: WidgetOptions = {},
): void {
  const doc = resolveDocument(options);
  const items = Array.isArray(response.items) ? response.items : [];
  container.textContent = '';
  if (options.heading) container.appendChild(textElement(doc, 'h3', 'vitrina-heading', options.heading));
  if (items.length === 0) {
    container.appendChild(textElement(doc, 'p', 'vitrina-empty', options.emptyText ?? DEFAULT_EMPTY));
    return;
  }

  const recommendationId = response.recommendation_id;
  const price = priceFormatter(options);
  const list = doc.createElement('ul');
  list.className = 'vitrina-list';
  list.setAttribute('data-recommendation-id', String(recommendationId));
  list.setAttribute('data-scenario', String(response.scenario));

  for (const item of items) {
    const itemId = String(item.item_id);
    const li = doc.createElement('li');
    li.className = 'vitrina-item';
    li.setAttribute('data-item-id', itemId);
    if (item.reason) li.setAttribute('title', item.reason);

    const link = doc.createElement('a');
    link.className = 'vitrina-link';
    link.setAttribute('href', safeHref(options.itemUrl ? options.itemUrl(item) : '#'));
    link.setAttribute('data-item-id', itemId);
    link.appendChild(textElement(doc, 'span', 'vitrina-title', item.title || itemId));
    if (typeof item.price === 'number' && Number.isFinite(item.price)) {
      link.appendChild(textElement(doc, 'span', 'vitrina-price', price(item.price, item)));
    }
    link.addEventListener('click', (event) => {
      quietly(() => options.tracker?.click(itemId, recommendationId));
      // Modified clicks open a new tab: leave those to the browser.
      if (!options.onSelect || isModified(event)) return;
      event.preventDefault();
      options.onSelect(item, event);
    });
    li.appendChild(link);
    if (item.reason && options.showReason !== false) {
      li.appendChild(textElement(doc, 'small', 'vitrina-reason', item.reason));
    }
    list.appendChild(li);
  }
  container.appendChild(list);
  quietly(() => options.tracker?.impression(items.map((item) => String(item.item_id)), recommendationId));
}

/**
 * Asks for recommendations and renders them: the list, the empty state, or
 * the error state when the request fails. Resolves to the response, or null
 * on failure; never rejects.
 */
export async function loadWidget(
  tracker: WidgetSource,
  container: WidgetElement,
  scenario: string,
  params: RecommendParams = {},
  options: WidgetOptions = {},
): Promise<RecommendationResponse | null> {
  container.setAttribute('aria-busy', 'true');
  try {
    let response: RecommendationResponse;
    try {
      response = await tracker.recommend(scenario, params);
    } catch (error) {
      const doc = resolveDocument(options);
      container.textContent = '';
      if (options.heading) container.appendChild(textElement(doc, 'h3', 'vitrina-heading', options.heading));
      container.appendChild(textElement(doc, 'p', 'vitrina-error', options.errorText ?? DEFAULT_ERROR));
      quietly(() => options.onError?.(error));
      return null;
    }
    renderRecommendations(container, response, { ...options, tracker });
    return response;
  } finally {
    container.setAttribute('aria-busy', 'false');
  }
}

function resolveDocument(options: WidgetOptions): WidgetDocument {
  const doc = options.document ?? (globalThis as { document?: WidgetDocument }).document;
  if (!doc) throw new TypeError('vitrina: no document; pass options.document');
  return doc;
}

function textElement(doc: WidgetDocument, tag: string, className: string, text: string): WidgetElement {
  const element = doc.createElement(tag);
  element.className = className;
  element.textContent = text;
  return element;
}

function priceFormatter(options: WidgetOptions): (price: number, item: RecommendedItem) => string {
  if (options.formatPrice) return options.formatPrice;
  if (options.currency) {
    try {
      const format = new Intl.NumberFormat(options.locale, { style: 'currency', currency: options.currency });
      return (price) => format.format(price);
    } catch {
      // An unknown currency code: fall through to plain numbers.
    }
  }
  return (price) => price.toFixed(2);
}

/** Item URLs may be built from catalog data; keep them from running script. */
export function safeHref(url: string): string {
  // Browsers ignore control characters and whitespace inside a scheme
  // ("java\tscript:"), so the check must too.
  const scheme = String(url).replace(/[\u0000-\u0020\u007f]/g, '').toLowerCase();
  return /^(javascript|vbscript|data):/.test(scheme) ? '#' : String(url);
}

function isModified(event: WidgetEvent): boolean {
  return Boolean(event.ctrlKey || event.metaKey || event.shiftKey || event.altKey || (event.button ?? 0) !== 0);
}

// Recording must never break the page: a tracker error (a validation
// TypeError, a throwing callback) is swallowed here.
function quietly(action: () => unknown): void {
  try {
    action();
  } catch {
    // see above
  }
}
