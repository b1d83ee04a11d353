// Explorer: a shopper (their facts, history and recommendations with
// reasons) or an item (its similar, bought-together and upsell lists).
import { ApiError, query, type Api } from '../../../lib/api';
import { formatNumber, formatPrice, h } from '../../../lib/dom';

export function recommendationList(title: string, items: any[], id: string): HTMLElement {
  return h('div', { class: 'card', id },
    h('h3', null, title),
    items.length === 0 ? h('p', { class: 'empty' }, 'Nothing to show.') :
      h('ol', { class: 'rec-list' }, items.map((item) => h('li', { 'data-item-id': item.item_id },
        h('a', { href: '#/explorer?item=' + encodeURIComponent(item.item_id) }, item.title || item.item_id),
        ' ', h('span', { class: 'muted' }, formatPrice(item.price)),
        h('div', { class: 'reason' }, item.reason ?? ''),
        h('div', { class: 'muted small' },
          `${item.model}${item.sources?.length > 1 ? ' (also ' + item.sources.slice(1).join(', ') + ')' : ''}` +
          (item.rules?.length ? ' · ' + item.rules.map((r: any) => r.effect).join(', ') : '') +
          (item.explored ? ' · explored' : ''))))));
}

async function orEmpty<T>(promise: Promise<T>, fallback: T): Promise<T> {
  try {
    return await promise;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return fallback;
    throw e;
  }
}

export async function explorerPage(api: Api, root: HTMLElement, params: URLSearchParams): Promise<void> {
  const user = params.get('user') ?? '';
  const item = params.get('item') ?? '';
  const userInput = h('input', { name: 'user', value: user, placeholder: 'user id, e.g. 18118' });
  const itemInput = h('input', { name: 'item', value: item, placeholder: 'item id, e.g. 85123A' });
  const form = (input: HTMLInputElement, key: string, label: string) => {
    const f = h('form', { class: 'inline-form' }, h('label', null, h('span', null, label), input), h('button', { type: 'submit' }, 'Look up'));
    f.addEventListener('submit', (event) => {
      event.preventDefault();
      location.hash = '#/explorer?' + key + '=' + encodeURIComponent(input.value.trim());
    });
    return f;
  };
  root.appendChild(h('h1', null, 'Explorer'));
  root.appendChild(h('div', { class: 'lookup' }, form(userInput, 'user', 'Shopper'), form(itemInput, 'item', 'Item')));
  if (user) await showUser(api, root, user);
  else if (item) await showItem(api, root, item);
}

async function showUser(api: Api, root: HTMLElement, user: string): Promise<void> {
  const id = encodeURIComponent(user);
  const [profile, events, forYou] = await Promise.all([
    api.get(`/v1/users/${id}/profile`),
    api.get(`/v1/users/${id}/events?limit=30`),
    api.get('/v1/recommendations/for_you' + query({ user_id: user, n: 10 })),
  ]);
  const fact = (label: string, value: string) => h('div', { class: 'stat' }, h('span', null, label), h('b', null, value));
  root.appendChild(h('h2', null, 'Shopper ' + user));
  if (profile.events_read === 0) root.appendChild(h('p', { class: 'empty' }, 'No events from this shopper yet.'));
  root.appendChild(h('div', { class: 'stats', id: 'profile' },
    fact('Lifecycle', profile.lifecycle),
    fact('Orders', formatNumber(profile.orders)),
    fact('Spend', formatNumber(profile.spend, 2)),
    fact('Average order', formatNumber(profile.average_order_value, 2)),
    fact('Typical unit price', formatNumber(profile.median_unit_price, 2)),
    fact('Last seen', profile.last_seen ? `${profile.last_seen.slice(0, 10)} (${formatNumber(profile.days_since_last_seen)} days ago)` : '–'),
    fact('Events', Object.entries(profile.events).map(([type, n]) => `${n} ${type}`).join(', ') || '–')));
  root.appendChild(h('p', { class: 'muted' },
    'Favourite categories: ', profile.top_categories.map((c: any) => c.name).join('; ') || '–',
    profile.top_brands.length ? '. Brands: ' + profile.top_brands.map((b: any) => b.name).join(', ') : '',
    profile.complete ? '' : ` (from the latest ${profile.events_read} events)`));
  const grid = h('div', { class: 'grid' });
  grid.appendChild(recommendationList('For you, with reasons', forYou.items, 'user-for-you'));
  grid.appendChild(h('div', { class: 'card' }, h('h3', null, 'Latest events'),
    h('table', { class: 'table compact', id: 'history' },
      h('thead', null, h('tr', null, ['When', 'Event', 'Item(s)', 'Value'].map((t) => h('th', null, t)))),
      h('tbody', null, events.events.map((e: any) => {
        const lines = e.lines ?? (e.item_id ? [{ item_id: e.item_id }] : []);
        const value = (e.lines ?? []).reduce((sum: number, l: any) => sum + (l.price ?? 0) * (l.quantity ?? 1), 0);
        return h('tr', null,
          h('td', null, (e.timestamp ?? '').slice(0, 16).replace('T', ' ')), h('td', null, e.type),
          h('td', null, e.query ? `“${e.query}”` : lines.slice(0, 4).map((l: any, i: number) => [
            i ? ', ' : '', h('a', { href: '#/explorer?item=' + encodeURIComponent(l.item_id) }, l.item_id)]),
            lines.length > 4 ? ` +${lines.length - 4}` : ''),
          h('td', null, value ? formatNumber(value, 2) : ''));
      })))));
  root.appendChild(grid);
}

async function showItem(api: Api, root: HTMLElement, item: string): Promise<void> {
  const id = encodeURIComponent(item);
  const record = await api.get(`/v1/items/${id}`);
  const list = (scenario: string) => orEmpty(api.get(`/v1/recommendations/${scenario}` + query({ item_id: item, n: 8 })), { items: [] });
  const [similar, together, upsell] = await Promise.all([list('similar'), list('bought_together'), list('upsell')]);
  root.appendChild(h('h2', null, record.title || item));
  root.appendChild(h('p', { class: 'muted' },
    [item, (record.category ?? []).join(' > '), record.brand, formatPrice(record.price, record.currency),
      record.stock === undefined || record.stock === null ? '' : `stock ${record.stock}`, record.active === false ? 'inactive' : '']
      .filter(Boolean).join(' · ')));
  root.appendChild(h('div', { class: 'grid three' },
    recommendationList('Similar', similar.items, 'item-similar'),
    recommendationList('Bought together', together.items, 'item-bought-together'),
    recommendationList('Upsell', upsell.items, 'item-upsell')));
}
