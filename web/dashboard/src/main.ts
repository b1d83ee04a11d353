// The dashboard: one page that asks for the admin key, keeps it in this tab
// only (sessionStorage), and draws every view from the engine's API.
import { Api, ApiError } from '../../lib/api';
import { h, mount, parseHash } from '../../lib/dom';
import { experimentsPage } from './pages/experiments';
import { explorerPage } from './pages/explorer';
import { modelsPage } from './pages/models';
import { overviewPage } from './pages/overview';
import { rulesPage } from './pages/rules';
import { searchPage } from './pages/search';

export type Page = (api: Api, root: HTMLElement, query: URLSearchParams) => Promise<void>;

const pages: { id: string; title: string; page: Page }[] = [
  { id: 'overview', title: 'Overview', page: overviewPage },
  { id: 'models', title: 'Models', page: modelsPage },
  { id: 'experiments', title: 'Experiments', page: experimentsPage },
  { id: 'rules', title: 'Rules', page: rulesPage },
  { id: 'explorer', title: 'Explorer', page: explorerPage },
  { id: 'search', title: 'Search tester', page: searchPage },
];

const KEY = 'vitrina.admin_key';
const ACTOR = 'vitrina.actor';
const app = document.getElementById('app') as HTMLElement;

function login(message = ''): void {
  const input = h('input', { type: 'password', id: 'admin-key', autocomplete: 'current-password', placeholder: 'admin key' });
  const name = h('input', { id: 'actor', value: sessionStorage.getItem(ACTOR) ?? '', placeholder: 'e.g. alice', maxlength: 100 });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const form = h('form', { class: 'login card' },
    h('h1', null, 'Vitrina'),
    h('p', null, 'The dashboard calls the API with the admin key. It is kept in this browser tab only.'),
    h('label', null, 'Admin key ', input),
    h('label', null, 'Your name, for the rules\' audit log (optional) ', name),
    h('button', { type: 'submit' }, 'Sign in'),
    error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    try {
      await new Api(key).get('/v1/stats');
      sessionStorage.setItem(KEY, key);
      sessionStorage.setItem(ACTOR, name.value.trim());
      route();
    } catch (e) {
      error.textContent = e instanceof ApiError && (e.status === 401 || e.status === 403)
        ? 'That is not the admin key.' : 'The engine did not answer: ' + String(e);
    }
  });
  mount(app, form);
  input.focus();
}

let generation = 0;

async function route(): Promise<void> {
  const key = sessionStorage.getItem(KEY);
  if (!key) return login();
  const api = new Api(key, '', sessionStorage.getItem(ACTOR) ?? '');
  const { path, query } = parseHash(location.hash);
  const current = pages.find((p) => p.id === path[0]) ?? pages[0];
  const content = h('main', { id: 'content', 'data-page': current.id });
  const nav = h('nav', null,
    h('span', { class: 'brand' }, 'Vitrina'),
    pages.map((p) => h('a', { href: '#/' + p.id, class: p === current ? 'active' : '' }, p.title)),
    h('button', { class: 'link', onclick: () => { sessionStorage.removeItem(KEY); login(); } }, 'Sign out'));
  mount(app, nav, content);
  document.title = current.title + ' · Vitrina';
  const mine = ++generation;
  try {
    await current.page(api, content, query);
  } catch (e) {
    if (mine !== generation) return;
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      sessionStorage.removeItem(KEY);
      return login('The key was refused; sign in again.');
    }
    content.appendChild(h('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e)));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
