// Search tester: a query as a chosen shopper, with the corrections the
// engine made, its facets, and the personal order beside the plain one.
import { query, type Api } from '../../../lib/api';
import { formatNumber, formatPrice, h } from '../../../lib/dom';

export async function searchPage(api: Api, root: HTMLElement, params: URLSearchParams): Promise<void> {
  const q = params.get('q') ?? '';
  const user = params.get('user') ?? '';
  const qInput = h('input', { name: 'q', value: q, placeholder: 'query, e.g. heart holdr' });
  const userInput = h('input', { name: 'user', value: user, placeholder: 'as shopper (user id)' });
  const form = h('form', { class: 'inline-form', id: 'search-form' },
    h('label', null, h('span', null, 'Query'), qInput),
    h('label', null, h('span', null, 'Shopper'), userInput),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = '#/search' + query({ q: qInput.value, user: userInput.value.trim() });
  });
  root.appendChild(h('h1', null, 'Search tester'));
  root.appendChild(form);
  if (!q) return;
  const base = { q, user_id: user, n: 20 };
  const [personal, plain] = await Promise.all([
    api.get('/v1/search' + query(base)),
    api.get('/v1/search' + query({ ...base, personalize: false })),
  ]);
  const notes: (string | HTMLElement)[] = [];
  if (personal.layout_corrected) notes.push(`Keyboard layout corrected: searched “${personal.layout_corrected}”.`);
  for (const c of personal.corrections ?? []) notes.push(`Typo: “${c.word}” read as “${c.corrected}”.`);
  if (personal.fallback) notes.push(`Fallback (${personal.fallback}): ${personal.message}`);
  root.appendChild(h('div', { id: 'search-notes' },
    h('p', null, `${formatNumber(personal.total)} results.`),
    notes.map((n) => h('p', { class: 'warning' }, n))));
  const plainIds = plain.items.map((i: any) => i.item_id);
  const facets = h('div', { class: 'card', id: 'facets' }, h('h3', null, 'Facets'),
    (personal.facets ?? []).map((facet: any) => h('div', { class: 'facet' },
      h('b', null, facet.name),
      h('ul', null, facet.values.slice(0, 8).map((v: any) => h('li', null, `${v.value} (${v.count})`))))),
    personal.price?.ranges?.length ? h('div', { class: 'facet' }, h('b', null, 'price'),
      h('ul', null, personal.price.ranges.map((r: any) => h('li', null, `${r.from} to ${r.to} (${r.count})`)))) : null,
    h('div', { class: 'facet' }, h('b', null, 'in stock'), h('ul', null, h('li', null, formatNumber(personal.in_stock)))));
  const results = (title: string, items: any[], id: string, compare: string[] | null) => h('div', { class: 'card', id },
    h('h3', null, title),
    h('ol', { class: 'rec-list' }, items.map((item: any, i: number) => {
      let move: HTMLElement | null = null;
      if (compare) {
        const j = compare.indexOf(item.item_id);
        move = j < 0 ? h('span', { class: 'mark' }, 'new') : j > i ? h('span', { class: 'mark up' }, `▲${j - i}`)
          : j < i ? h('span', { class: 'mark down' }, `▼${i - j}`) : null;
      }
      return h('li', { 'data-item-id': item.item_id },
        h('a', { href: '#/explorer?item=' + encodeURIComponent(item.item_id) }, item.title || item.item_id), ' ',
        h('span', { class: 'muted' }, formatPrice(item.price)), move,
        h('div', { class: 'reason' }, `${item.match}${item.reason ? ' · ' + item.reason : ''}`));
    })));
  root.appendChild(h('div', { class: 'grid three' },
    results(user ? `Personal order for ${user}` : 'Order (no shopper given)', personal.items, 'search-personal', user ? plainIds : null),
    results('Without personalization', plain.items, 'search-plain', null),
    facets));
}
