// Experiments: every A/B test with its status; for the one chosen, each
// group's metrics as estimates with 95% intervals against the control;
// start a new one from a form, stop a running one.
import { describeError, type Api } from '../../../lib/api';
import { formatNumber, formatPercent, h } from '../../../lib/dom';
import { intervalChart, type Estimate } from '../charts';

const metrics: { key: string; title: string; format: (v: number) => string }[] = [
  { key: 'ctr', title: 'Click-through rate (per item shown)', format: (v) => formatPercent(v, 2) },
  { key: 'conversion', title: 'Conversion (shoppers who ordered)', format: (v) => formatPercent(v, 1) },
  { key: 'attributed_revenue_per_user', title: 'Attributed revenue per shopper', format: (v) => formatNumber(v, 2) },
  { key: 'revenue_per_user_cuped', title: 'Revenue per shopper (CUPED)', format: (v) => formatNumber(v, 2) },
  { key: 'average_order_value', title: 'Average order value', format: (v) => formatNumber(v, 2) },
];

function pValue(p: number | null | undefined): string {
  if (p === null || p === undefined) return '';
  return p < 0.0001 ? 'p < 0.0001' : 'p = ' + p.toFixed(p < 0.01 ? 4 : 3);
}

export async function experimentsPage(api: Api, root: HTMLElement, query: URLSearchParams): Promise<void> {
  const list = (await api.get('/v1/experiments')).experiments as { status: string; experiment: any }[];
  root.appendChild(h('h1', null, 'Experiments'));
  const message = h('p', { class: 'muted', role: 'status' });
  const chosenId = query.get('id') ?? list.find((e) => e.status === 'running')?.experiment.id ?? list[0]?.experiment.id;
  root.appendChild(list.length === 0 ? h('p', { class: 'empty' }, 'No experiments yet: start one below.') :
    h('table', { class: 'table', id: 'experiments' },
      h('thead', null, h('tr', null, ['Experiment', 'Status', 'Scenarios', 'Variants', 'Start', 'Stop', '']
        .map((t) => h('th', null, t)))),
      h('tbody', null, list.map(({ status, experiment: e }) => h('tr', { class: e.id === chosenId ? 'selected' : '' },
        h('td', null, h('a', { href: '#/experiments?id=' + encodeURIComponent(e.id) }, e.name && e.name !== e.id ? `${e.name} (${e.id})` : e.id)),
        h('td', null, h('span', { class: 'badge ' + status }, status)),
        h('td', null, e.scenarios.join(', ')),
        h('td', null, e.variants.map((v: any) => v.name).join(' / ') + (e.holdout ? ` + holdout ${formatPercent(e.holdout, 0)}` : '')),
        h('td', null, (e.start ?? '').slice(0, 16).replace('T', ' ')),
        h('td', null, (e.stopped_at ?? e.stop ?? '').slice(0, 16).replace('T', ' ')),
        h('td', null, status === 'stopped' ? '' : h('button', {
          onclick: async () => {
            if (!confirm(`Stop experiment ${e.id} now?`)) return;
            try {
              await api.post(`/v1/experiments/${encodeURIComponent(e.id)}/stop`);
              window.dispatchEvent(new HashChangeEvent('hashchange'));
            } catch (err) {
              message.textContent = err instanceof Error ? err.message : String(err);
            }
          },
        }, 'Stop')))))));
  root.appendChild(message);

  if (chosenId) {
    const results = await api.get(`/v1/experiments/${encodeURIComponent(chosenId)}/results`);
    const box = h('section', { id: 'results' }, h('h2', null, `Results of ${chosenId}`));
    const state = results.state as string;
    box.appendChild(h('p', { class: state === 'ready' ? 'muted' : 'warning' },
      state === 'ready' ? 'Enough shoppers in every group.' : results.message || state,
      results.sample_ratio?.mismatch ? ` Sample ratio mismatch (p = ${results.sample_ratio.p_value?.toExponential(1)}): ` +
        'the split is not as configured; do not trust the differences.' : ''));
    const groups = results.groups as any[];
    box.appendChild(h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Group', 'Role', 'Shoppers', 'Share', 'Items shown', 'Clicks', 'Orders', 'Revenue']
        .map((t) => h('th', null, t)))),
      h('tbody', null, groups.map((g) => h('tr', null,
        h('td', null, g.name), h('td', null, g.role), h('td', null, formatNumber(g.users)),
        h('td', null, `${formatPercent(g.observed_share, 1)} (expected ${formatPercent(g.expected_share, 1)})`),
        h('td', null, formatNumber(g.impressions)), h('td', null, formatNumber(g.clicks)),
        h('td', null, formatNumber(g.orders)), h('td', null, formatNumber(g.revenue, 2)))))));
    const charts = h('div', { class: 'grid' });
    for (const metric of metrics) {
      const rows: Estimate[] = groups.map((g) => {
        const m = g.metrics[metric.key] ?? {};
        const vs = m.vs_control;
        return {
          label: g.name,
          value: m.value ?? null,
          low: m.ci95?.[0] ?? null,
          high: m.ci95?.[1] ?? null,
          control: g.role === 'control',
          note: vs ? `${vs.relative !== null ? (vs.relative >= 0 ? '+' : '') + formatPercent(vs.relative, 1) : ''} ${pValue(vs.p_value)}${vs.significant ? ' *' : ''}` : '',
        };
      });
      charts.appendChild(intervalChart(metric.title, rows, metric.format));
    }
    box.appendChild(charts);
    box.appendChild(h('p', { class: 'muted' },
      'Dots are estimates, whiskers their 95% intervals; the dashed line is the control. Beside each: the change ' +
      'against the control and its p-value (* below 0.05, once every group has enough shoppers).'));
    root.appendChild(box);
  }
  root.appendChild(createForm(api));
}

function createForm(api: Api): HTMLElement {
  const field = (label: string, input: HTMLElement) => h('label', null, h('span', null, label), input);
  const id = h('input', { name: 'id', placeholder: 'ranker-vs-bestsellers', required: true, pattern: '[\\w.\\-]+' });
  const name = h('input', { name: 'name', placeholder: 'Learned ranker against bestsellers' });
  const scenario = h('select', { name: 'scenario' },
    ['for_you', 'similar', 'bought_together', 'cart', 'upsell', 'trending', 'recently_viewed'].map((s) => h('option', { value: s }, s)));
  const models = ['', 'pipeline', 'trending', 'als', 'cooccurrence', 'ease', 'sasrec', 'gru4rec', 'category_popular'];
  const variant = (label: string, model: string) => {
    const select = h('select', null, models.map((m) => h('option', { value: m }, m || '(default)')));
    select.value = model;
    const rules = h('input', { type: 'checkbox', checked: true });
    const share = h('input', { type: 'number', min: '0', step: 'any', value: '1' });
    const nameInput = h('input', { value: label });
    return { nameInput, select, rules, share,
      row: h('tr', null, h('td', null, nameInput), h('td', null, select), h('td', null, rules), h('td', null, share)) };
  };
  const control = variant('control', 'trending');
  const treatment = variant('treatment', 'pipeline');
  const holdout = h('input', { type: 'number', min: '0', max: '0.5', step: '0.01', value: '0' });
  const minUnits = h('input', { type: 'number', min: '1', step: '1', value: '100' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card', id: 'new-experiment' },
    h('h2', null, 'Start an experiment'),
    field('Id', id), field('Name', name), field('Scenario', scenario),
    h('table', { class: 'table compact' },
      h('thead', null, h('tr', null, ['Variant', 'Model (for_you)', 'Merchandising rules', 'Share'].map((t) => h('th', null, t)))),
      h('tbody', null, control.row, treatment.row)),
    field('Holdout share', holdout), field('Shoppers per group before significance', minUnits),
    h('button', { type: 'submit' }, 'Start'), error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const settings = (v: typeof control) => {
      const s: Record<string, unknown> = {};
      if (v.select.value && scenario.value === 'for_you') s.model = v.select.value;
      if (!v.rules.checked) s.rules = false;
      return Object.keys(s).length ? { [scenario.value]: s } : {};
    };
    const body = {
      id: id.value.trim(),
      name: name.value.trim() || id.value.trim(),
      scenarios: [scenario.value],
      holdout: Number(holdout.value) || 0,
      min_units: Number(minUnits.value) || 100,
      variants: [control, treatment].map((v) => ({ name: v.nameInput.value.trim(), share: Number(v.share.value), settings: settings(v) })),
    };
    try {
      await api.post('/v1/experiments', body);
      location.hash = '#/experiments?id=' + encodeURIComponent(body.id);
    } catch (e) {
      error.textContent = describeError(e);
    }
  });
  return form;
}
