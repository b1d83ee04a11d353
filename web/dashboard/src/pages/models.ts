// Models: the training state, every snapshot with its offline metrics (a
// chart of NDCG@10 per model for the one chosen), the history of runs, and
// restore.
import type { Api } from '../../../lib/api';
import { formatNumber, h } from '../../../lib/dom';
import { barChart, lineChart } from '../charts';

interface Snapshot {
  id: string;
  created: string;
  models: string[];
  items: number;
  actors: number;
  interactions: number;
  train_seconds: number;
  evaluation: string;
  metrics: Record<string, Record<string, number | null>>;
}

function bestNdcg(snapshot: Snapshot): [string, number] | null {
  let best: [string, number] | null = null;
  for (const [model, metrics] of Object.entries(snapshot.metrics ?? {})) {
    const value = metrics['ndcg@10'];
    if (typeof value === 'number' && (best === null || value > best[1])) best = [model, value];
  }
  return best;
}

export async function modelsPage(api: Api, root: HTMLElement, query: URLSearchParams): Promise<void> {
  const data = await api.get('/v1/models');
  const snapshots: Snapshot[] = data.snapshots ?? [];
  const chosen = snapshots.find((s) => s.id === query.get('snapshot')) ?? snapshots.find((s) => s.id === data.current);
  const status = h('p', { class: 'muted', role: 'status' });
  const train = h('button', {
    onclick: async () => {
      train.setAttribute('disabled', '');
      try {
        // Runs so far: the page waits for one more (a queued run may not
        // have started at the first look).
        const runs = (t: any) => t.runs.succeeded + t.runs.failed + t.runs.rejected_by_quality_guard;
        const before = runs(data.training);
        await api.post('/v1/models/train');
        status.textContent = 'Training started; this page refreshes when it ends.';
        const poll = async () => {
          const now = await api.get('/v1/models');
          if (now.training.running || now.training.queued || runs(now.training) === before) {
            status.textContent = `Training: ${now.training.stage} (${Math.round(100 * now.training.fraction)}%)`;
            setTimeout(poll, 1000);
          } else {
            window.dispatchEvent(new HashChangeEvent('hashchange'));
          }
        };
        setTimeout(poll, 500);
      } catch (e) {
        status.textContent = String(e instanceof Error ? e.message : e);
        train.removeAttribute('disabled');
      }
    },
  }, 'Train now');
  const t = data.training;
  root.appendChild(h('h1', null, 'Models'));
  root.appendChild(h('div', { class: 'stats' },
    h('div', { class: 'stat' }, h('span', null, 'Serving'), h('b', { id: 'current-snapshot' }, data.current ?? 'none yet')),
    h('div', { class: 'stat' }, h('span', null, 'Training runs'),
      h('b', null, `${t.runs.succeeded} ok · ${t.runs.failed} failed · ${t.runs.rejected_by_quality_guard} rejected`)),
    h('div', { class: 'stat' }, h('span', null, 'Now'),
      h('b', null, t.running ? `training: ${t.stage} ${Math.round(100 * t.fraction)}%` : 'idle'))));
  // A snapshot the quality guard kept out is reported once, as a warning below.
  const rejected = data.training.last_rejected;
  if (t.last_error && !(rejected && t.last_error === rejected.reason)) {
    root.appendChild(h('p', { class: 'error' }, 'Last training failed: ' + t.last_error));
  }
  if (rejected) {
    root.appendChild(h('p', { class: 'warning' },
      rejected.reason.replace(/^quality guard: /, 'The quality guard: ')));
  }
  root.appendChild(h('p', null, train, ' ', status));

  // The history: each snapshot's best NDCG@10, oldest to newest.
  const charts = h('div', { class: 'grid' });
  root.appendChild(charts);
  const history = [...snapshots].sort((a, b) => a.created.localeCompare(b.created));
  if (history.length > 0) {
    charts.appendChild(lineChart({
      title: 'Training history: the best model\'s NDCG@10 per snapshot',
      labels: history.map((s) => s.created.slice(5, 16).replace('T', ' ')),
      series: [{ name: 'NDCG@10', values: history.map((s) => bestNdcg(s)?.[1] ?? null) }],
      format: (v) => v.toFixed(3),
    }));
  }
  if (chosen) {
    const models = Object.keys(chosen.metrics ?? {});
    if (models.length > 0) {
      charts.appendChild(barChart(`NDCG@10 per model, snapshot ${chosen.id}`,
        models.map((m) => ({ label: m, value: chosen.metrics[m]['ndcg@10'] ?? null, highlight: m === 'pipeline' }))));
    }
    if (chosen.evaluation) root.appendChild(h('p', { class: 'muted' }, 'Measured by ' + chosen.evaluation + '.'));
  }

  root.appendChild(h('h2', null, 'Snapshots'));
  root.appendChild(h('table', { class: 'table', id: 'snapshots' },
    h('thead', null, h('tr', null, ['Snapshot', 'Created', 'Items', 'Shoppers', 'Interactions', 'Training', 'Best NDCG@10', '']
      .map((text) => h('th', null, text)))),
    h('tbody', null, snapshots.map((s) => {
      const best = bestNdcg(s);
      const restore = s.id === data.current ? h('b', null, 'serving') : h('button', {
        onclick: async () => {
          if (!confirm(`Put snapshot ${s.id} back in service?`)) return;
          try {
            await api.post(`/v1/models/${encodeURIComponent(s.id)}/restore`);
            window.dispatchEvent(new HashChangeEvent('hashchange'));
          } catch (e) {
            status.textContent = String(e instanceof Error ? e.message : e);
          }
        },
      }, 'Restore');
      return h('tr', { class: s.id === chosen?.id ? 'selected' : '' },
        h('td', null, h('a', { href: '#/models?snapshot=' + encodeURIComponent(s.id) }, s.id)),
        h('td', null, s.created.replace('T', ' ').slice(0, 19)),
        h('td', null, formatNumber(s.items)), h('td', null, formatNumber(s.actors)),
        h('td', null, formatNumber(s.interactions)), h('td', null, formatNumber(s.train_seconds, 1) + ' s'),
        h('td', null, best ? `${best[1].toFixed(3)} (${best[0]})` : '–'),
        h('td', null, restore));
    }))));
  if (chosen && Object.keys(chosen.metrics ?? {}).length > 0) {
    const names = [...new Set(Object.values(chosen.metrics).flatMap((m) => Object.keys(m)))].sort();
    root.appendChild(h('h2', null, 'Offline metrics of ' + chosen.id));
    root.appendChild(h('table', { class: 'table' },
      h('thead', null, h('tr', null, h('th', null, 'Model'), names.map((n) => h('th', null, n)))),
      h('tbody', null, Object.entries(chosen.metrics).map(([model, metrics]) => h('tr', null,
        h('td', null, model),
        names.map((n) => h('td', null, typeof metrics[n] === 'number' ? (metrics[n] as number).toFixed(4) : '–')))))));
  }
}
