// Overview: the store's size, then per hour (or coarser) the events
// received and each scenario's impressions, CTR, conversion and attributed
// revenue, from /v1/attribution/timeline.
import type { Api } from '../../../lib/api';
import { formatNumber, formatPercent, h } from '../../../lib/dom';
import { lineChart, type Series } from '../charts';

interface Timeline {
  hours: string[];
  events: Record<string, number[]>;
  scenarios: Record<string, Record<'lists' | 'impressions' | 'clicks' | 'add_to_carts' | 'purchases' | 'revenue', number[]>>;
}

const ranges = [
  { id: '24h', hours: 24, bucket: 1, title: 'the last 24 hours, per hour' },
  { id: '7d', hours: 168, bucket: 6, title: 'the last 7 days, per 6 hours (the last one so far)' },
  { id: '14d', hours: 336, bucket: 24, title: 'the last 14 days, per day (today so far)' },
];

// Sums consecutive hours into buckets of `size`.
export function bucketSums(values: number[], size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i += size) {
    out.push(values.slice(i, i + size).reduce((a, b) => a + b, 0));
  }
  return out;
}

// Drops leading hours until the first starts a bucket (the server's clock
// decides the hours; the browser's only how many to ask for).
export function alignToBuckets(timeline: Timeline, bucket: number): Timeline {
  let skip = 0;
  while (skip < timeline.hours.length && new Date(timeline.hours[skip]).getUTCHours() % bucket !== 0) ++skip;
  if (skip === 0 || skip === timeline.hours.length) return timeline;
  const cut = <T>(values: T[]) => values.slice(skip);
  const scenarios: Timeline['scenarios'] = {};
  for (const [name, columns] of Object.entries(timeline.scenarios)) {
    scenarios[name] = Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, cut(v)])) as Timeline['scenarios'][string];
  }
  return {
    hours: cut(timeline.hours),
    events: Object.fromEntries(Object.entries(timeline.events).map(([k, v]) => [k, cut(v)])),
    scenarios,
  };
}

function ratio(top: number[], bottom: number[]): (number | null)[] {
  return top.map((value, i) => (bottom[i] > 0 ? value / bottom[i] : null));
}

function label(iso: string, bucket: number): string {
  const d = new Date(iso);
  const day = d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
  const hour = String(d.getUTCHours()).padStart(2, '0') + ':00';
  return bucket >= 24 ? day : bucket > 1 ? `${day} ${hour}` : hour;
}

export async function overviewPage(api: Api, root: HTMLElement, query: URLSearchParams): Promise<void> {
  const range = ranges.find((r) => r.id === query.get('range')) ?? ranges[0];
  // Whole UTC buckets (days from midnight, 6-hour blocks from 00, 06, ...):
  // the full ones before and the current one so far.
  const currentHour = new Date().getUTCHours();
  const hours = range.hours - range.bucket + (currentHour % range.bucket) + 1;
  const [stats, fetched] = await Promise.all([
    api.get('/v1/stats'),
    api.get<Timeline>('/v1/attribution/timeline?hours=' + hours),
  ]);
  const timeline = alignToBuckets(fetched, range.bucket);
  const card = (title: string, value: string) => h('div', { class: 'stat' }, h('span', null, title), h('b', null, value));
  root.appendChild(h('h1', null, 'Overview'));
  root.appendChild(h('div', { class: 'stats' },
    card('Items', formatNumber(stats.items)),
    card('Shoppers', formatNumber(stats.users)),
    card('Events stored', formatNumber(stats.events)),
    card('Purchases stored', formatNumber(stats.events_by_type?.purchase))));
  root.appendChild(h('div', { class: 'tabs' },
    h('span', null, 'Period: '),
    ranges.map((r) => h('a', { href: '#/overview?range=' + r.id, class: r === range ? 'active' : '' }, r.id))));
  root.appendChild(h('p', { class: 'muted' },
    `Times in UTC, ${range.title}. Recommendations count in the period they were shown; their clicks, carts and ` +
    'purchases (attributed by recommendation_id or to the latest list that showed the item) count with them.'));

  const labels: string[] = [];
  for (let i = 0; i < timeline.hours.length; i += range.bucket) labels.push(label(timeline.hours[i], range.bucket));
  // Every event type that occurred in the period.
  const eventSeries: Series[] = Object.keys(timeline.events)
    .filter((type) => timeline.events[type].some((n) => n > 0))
    .map((type) => ({ name: type, values: bucketSums(timeline.events[type], range.bucket) }));
  const scenarios = Object.keys(timeline.scenarios).sort();
  const per = (key: 'lists' | 'impressions' | 'clicks' | 'add_to_carts' | 'purchases' | 'revenue') =>
    scenarios.map((name) => bucketSums(timeline.scenarios[name][key], range.bucket));
  const impressions = per('impressions');
  const clicks = per('clicks');
  const purchases = per('purchases');
  const revenue = per('revenue');
  const grid = h('div', { class: 'grid' });
  grid.appendChild(lineChart({ title: 'Events received', labels, series: eventSeries, format: (v) => formatNumber(v) }));
  if (scenarios.length === 0) {
    grid.appendChild(h('p', { class: 'empty' }, 'No recommendations were served in this period.'));
  } else {
    grid.appendChild(lineChart({
      title: 'Items shown (impressions)', labels, format: (v) => formatNumber(v),
      series: scenarios.map((name, s) => ({ name, values: impressions[s] })),
    }));
    grid.appendChild(lineChart({
      title: 'Click-through rate (clicks / items shown)', labels, format: (v) => formatPercent(v, 1),
      series: scenarios.map((name, s) => ({ name, values: ratio(clicks[s], impressions[s]) })),
    }));
    grid.appendChild(lineChart({
      title: 'Conversion (purchased / items shown)', labels, format: (v) => formatPercent(v, 2),
      series: scenarios.map((name, s) => ({ name, values: ratio(purchases[s], impressions[s]) })),
    }));
    grid.appendChild(lineChart({
      title: 'Attributed revenue', labels, format: (v) => formatNumber(v, v < 10 ? 2 : 0),
      series: scenarios.map((name, s) => ({ name, values: revenue[s] })),
    }));
  }
  root.appendChild(grid);

  // Totals of the period per scenario.
  const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
  root.appendChild(h('h2', null, 'Per scenario, this period'));
  root.appendChild(h('table', { class: 'table' },
    h('thead', null, h('tr', null, ['Scenario', 'Lists', 'Items shown', 'Clicks', 'CTR', 'Carts', 'Purchases',
      'Conversion', 'Revenue'].map((t) => h('th', null, t)))),
    h('tbody', null, scenarios.map((name) => {
      const s = timeline.scenarios[name];
      const shown = total(s.impressions);
      return h('tr', null,
        h('td', null, name), h('td', null, formatNumber(total(s.lists))), h('td', null, formatNumber(shown)),
        h('td', null, formatNumber(total(s.clicks))),
        h('td', null, formatPercent(shown ? total(s.clicks) / shown : null)),
        h('td', null, formatNumber(total(s.add_to_carts))), h('td', null, formatNumber(total(s.purchases))),
        h('td', null, formatPercent(shown ? total(s.purchases) / shown : null)),
        h('td', null, formatNumber(total(s.revenue), 2)));
    }))));
}
