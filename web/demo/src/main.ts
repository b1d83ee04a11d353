// The demo storefront: home (for you, trending, recently viewed), product
// pages (similar, bought together, upsell), a cart with cross-sell, and
// search with suggestions. Everything a shopper does goes through the
// tracker, so the recommendations follow them as they click around.
import { Api, ApiError, query } from '../../lib/api';
import { debounce, formatPrice, h, mount, parseHash } from '../../lib/dom';
import { loadWidget, Tracker, type RecommendedItem, type RecommendParams } from '../../tracker/src/index';

declare global {
  interface Window {
    VITRINA_DEMO?: { key: string };
    vitrinaDemo?: { tracker: Tracker };
  }
}

interface CartLine {
  item_id: string;
  title: string;
  price: number | null;
  quantity: number;
}

const key = window.VITRINA_DEMO?.key ?? '';
const api = new Api(key);  // the catalog and search, with the public key
const page = document.getElementById('page') as HTMLElement;
const tracker = new Tracker({
  key,
  // A demo wants to see the effect at once: send every event right away.
  flushIntervalMs: 50,
  maxRetries: 3,
  backoffMs: 300,
  currency: 'GBP',
  context: { device: matchMedia('(max-width: 700px)').matches ? 'mobile' : 'desktop', channel: 'web' },
  userId: localStorage.getItem('vitrina-demo.user') || null,
});
tracker.install(window);
window.vitrinaDemo = { tracker };

// --- the cart, kept in this browser --------------------------------------

function cart(): CartLine[] {
  try {
    return JSON.parse(localStorage.getItem('vitrina-demo.cart') ?? '[]') as CartLine[];
  } catch {
    return [];
  }
}

function saveCart(lines: CartLine[]): void {
  localStorage.setItem('vitrina-demo.cart', JSON.stringify(lines));
  (document.getElementById('cart-count') as HTMLElement).textContent = String(lines.reduce((n, l) => n + l.quantity, 0));
}

function addToCart(item: { item_id: string; title: string; price: number | null }): void {
  const lines = cart();
  const line = lines.find((l) => l.item_id === item.item_id);
  if (line) line.quantity += 1;
  else lines.push({ ...item, quantity: 1 });
  saveCart(lines);
  tracker.addToCart(item.item_id, 1, item.price ?? undefined);
  void tracker.flush();
}

// --- widgets --------------------------------------------------------------

const itemUrl = (item: { item_id: string }) => '#/item/' + encodeURIComponent(item.item_id);

function widget(id: string, heading: string, scenario: string, params: RecommendParams = {}): HTMLElement {
  const box = h('section', { class: 'widget', id, 'data-scenario': scenario }, h('p', { class: 'muted' }, 'Loading…'));
  // Events just tracked are sent first, so the list already follows them.
  void tracker.flush().then(() => loadWidget(tracker, box, scenario, { n: 8, ...params }, {
    heading,
    itemUrl,
    currency: 'GBP',
    locale: 'en-GB',
    emptyText: scenario === 'recently_viewed' ? 'Items you view appear here.' : 'Nothing to recommend yet.',
    onSelect: (item: RecommendedItem) => {
      location.hash = itemUrl(item);
    },
  }));
  return box;
}

// --- pages ----------------------------------------------------------------

function home(): void {
  mount(page,
    h('section', { class: 'hero' },
      h('h1', null, 'Gifts, homeware and Christmas decorations'),
      h('p', null, 'A real shop\'s catalog (UCI Online Retail). Look at a few products, then come back: ',
        '“Picked for you” follows what you looked at.')),
    widget('for-you', 'Picked for you', 'for_you'),
    widget('trending', 'Trending now', 'trending'),
    widget('recently-viewed', 'Recently viewed', 'recently_viewed'));
}

async function product(id: string): Promise<void> {
  mount(page, h('p', { class: 'muted' }, 'Loading…'));
  let item: any;
  try {
    item = await api.get('/v1/catalog/' + encodeURIComponent(id));
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    mount(page, h('h1', null, 'Not found'), h('p', null, `There is no item “${id}” for sale.`), h('a', { href: '#/' }, 'Back to the shop'));
    return;
  }
  tracker.view(item.id);
  const added = h('span', { class: 'added', role: 'status' });
  mount(page,
    h('article', { class: 'product', 'data-item-id': item.id },
      h('div', { class: 'picture', 'aria-hidden': 'true' }, (item.title || '?').slice(0, 1)),
      h('div', null,
        h('p', { class: 'crumbs' }, (item.category ?? []).join(' › ')),
        h('h1', null, item.title || item.id),
        h('p', { class: 'price' }, formatPrice(item.price, item.currency || 'GBP')),
        item.description ? h('p', null, item.description) : null,
        h('p', { class: 'muted' }, 'Item ' + item.id + (item.brand ? ' · ' + item.brand : '') + (item.in_stock ? '' : ' · out of stock')),
        h('button', {
          id: 'add-to-cart',
          onclick: () => {
            addToCart({ item_id: item.id, title: item.title, price: item.price });
            added.textContent = 'Added to the cart.';
          },
        }, 'Add to cart'), ' ', added)),
    widget('similar', 'Similar items', 'similar', { item_id: item.id }),
    widget('bought-together', 'Bought together', 'bought_together', { item_id: item.id }),
    widget('upsell', 'You may prefer', 'upsell', { item_id: item.id }));
}

function cartPage(done = false): void {
  const lines = cart();
  const total = lines.reduce((sum, l) => sum + (l.price ?? 0) * l.quantity, 0);
  mount(page,
    h('h1', null, 'Your cart'),
    done ? h('p', { class: 'thanks', role: 'status' }, 'Thank you for your order!') : null,
    lines.length === 0 ? h('p', { class: 'empty' }, 'The cart is empty.') :
      h('table', { class: 'cart', id: 'cart-lines' },
        h('tbody', null, lines.map((line) => h('tr', { 'data-item-id': line.item_id },
          h('td', null, h('a', { href: itemUrl(line) }, line.title || line.item_id)),
          h('td', null, '× ' + line.quantity),
          h('td', null, formatPrice((line.price ?? 0) * line.quantity, 'GBP')),
          h('td', null, h('button', {
            class: 'link',
            onclick: () => {
              tracker.removeFromCart(line.item_id, line.quantity, line.price ?? undefined);
              saveCart(cart().filter((l) => l.item_id !== line.item_id));
              cartPage();
            },
          }, 'Remove'))))),
        h('tfoot', null, h('tr', null, h('td', null, 'Total'), h('td'), h('td', null, formatPrice(total, 'GBP')), h('td')))),
    lines.length === 0 ? null : h('button', {
      id: 'checkout',
      onclick: () => {
        tracker.purchase(lines.map((l) => ({ item_id: l.item_id, quantity: l.quantity, price: l.price ?? undefined })));
        void tracker.flush();
        saveCart([]);
        cartPage(true);
      },
    }, 'Place the order'),
    lines.length === 0 ? null : widget('cross-sell', 'Goes well with your cart', 'cart', { items: lines.map((l) => l.item_id) }),
    widget('for-you', 'Picked for you', 'for_you'));
}

async function searchPage(q: string): Promise<void> {
  (document.getElementById('q') as HTMLInputElement).value = q;
  mount(page, h('p', { class: 'muted' }, 'Searching…'));
  tracker.search(q);
  await tracker.flush();
  let result: any;
  try {
    result = await api.get('/v1/search' + query({ q, n: 24, session_id: tracker.sessionId(), user_id: tracker.getUser() }));
  } catch (e) {
    mount(page, h('p', { class: 'error' }, e instanceof Error ? e.message : 'Search failed.'));
    return;
  }
  const notes = [
    result.layout_corrected ? `Showing results for “${result.layout_corrected}” (keyboard layout).` : '',
    ...(result.corrections ?? []).map((c: any) => `“${c.word}” read as “${c.corrected}”.`),
    result.fallback ? result.message : '',
  ].filter(Boolean);
  mount(page,
    h('h1', null, `Results for “${q}”`),
    notes.map((n) => h('p', { class: 'note' }, n)),
    result.items.length === 0 ? h('p', { class: 'empty' }, 'Nothing found.') :
      h('ul', { class: 'results', id: 'results' }, result.items.map((item: any) => h('li', { title: item.reason ?? '', 'data-item-id': item.item_id },
        h('a', { href: itemUrl(item) }, h('b', null, item.title || item.item_id)),
        h('span', { class: 'price' }, formatPrice(item.price, 'GBP')),
        item.reason ? h('small', { class: 'vitrina-reason' }, item.reason) : null))));
}

// --- search box with suggestions -----------------------------------------

function setUpSearch(): void {
  const form = document.getElementById('search') as HTMLFormElement;
  const input = document.getElementById('q') as HTMLInputElement;
  const list = document.getElementById('suggestions') as HTMLUListElement;
  // Bumped when a search or a page starts: answers to older keystrokes are dropped.
  let generation = 0;
  const close = () => {
    generation += 1;
    list.hidden = true;
  };
  window.addEventListener('hashchange', close);
  const go = (q: string) => {
    close();
    if (q.trim()) location.hash = '#/search?q=' + encodeURIComponent(q.trim());
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go(input.value);
  });
  const suggest = debounce(async () => {
    const q = input.value;
    const mine = generation;
    if (!q.trim()) {
      list.hidden = true;
      return;
    }
    const result = await api.get('/v1/search/suggest' + query({ q, n: 6, session_id: tracker.sessionId() }))
      .catch(() => null);  // no suggestions is no error
    if (result === null || input.value !== q || mine !== generation) return;
    const entries = [
      ...result.suggestions.map((s: any) => h('li', { role: 'option', class: 'suggestion', onmousedown: () => go(s.text) }, s.text)),
      ...result.items.map((item: any) => h('li', { role: 'option', class: 'suggested-item', onmousedown: () => { location.hash = itemUrl(item); list.hidden = true; } },
        item.title, ' ', h('span', { class: 'price' }, formatPrice(item.price, 'GBP')))),
    ];
    mount(list, entries);
    list.hidden = entries.length === 0;
  }, 150);
  input.addEventListener('input', () => {
    generation += 1;
    suggest();
  });
  input.addEventListener('blur', () => setTimeout(() => (list.hidden = true), 200));
}

// --- who is shopping ------------------------------------------------------

function drawWho(): void {
  const who = document.getElementById('who') as HTMLElement;
  const user = tracker.getUser();
  const input = h('input', { id: 'sign-in-user', placeholder: 'customer id, e.g. 18118', size: 12 });
  const form = h('form', { class: 'sign-in' }, input, h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (!id) return;
    tracker.setUser(id);
    localStorage.setItem('vitrina-demo.user', id);
    drawWho();
    route();
  });
  mount(who, user
    ? [h('span', { id: 'signed-in' }, 'Customer ' + user), ' ', h('button', {
      class: 'link',
      onclick: () => {
        tracker.setUser(null);
        localStorage.removeItem('vitrina-demo.user');
        drawWho();
        route();
      },
    }, 'Sign out')]
    : form);
}

function route(): void {
  const { path, query } = parseHash(location.hash);
  window.scrollTo(0, 0);
  const done = (promise: Promise<void>) => promise.catch((e) => mount(page, h('p', { class: 'error' }, String(e))));
  if (path[0] === 'item' && path[1]) void done(product(path[1]));
  else if (path[0] === 'cart') cartPage();
  else if (path[0] === 'search') void done(searchPage(query.get('q') ?? ''));
  else home();
}

if (!key) {
  mount(page, h('p', { class: 'error' }, 'This server has no public key (auth.public_key), which the demo store needs.'));
} else {
  saveCart(cart());
  setUpSearch();
  drawWho();
  window.addEventListener('hashchange', route);
  route();
}
