// Rules: the rules in force, and an editor that checks the rule as it is
// typed (the field at fault is marked) and previews its effect on a chosen
// shopper's recommendations before it is saved.
import { ApiError, describeError, query, type Api } from '../../../lib/api';
import { debounce, formatPrice, h, mount } from '../../../lib/dom';

const kinds: Record<string, { fields: string[]; help: string }> = {
  boost: { fields: ['expression', 'weight'], help: 'Matching items\' relevance × weight (> 1).' },
  bury: { fields: ['expression', 'weight'], help: 'Matching items\' relevance ÷ weight (> 1).' },
  pin: { fields: ['items', 'position'], help: 'These items at this place (1 = first) and after, in order.' },
  filter: { fields: ['expression'], help: 'Only items matching the expression.' },
  block: { fields: ['items', 'expression'], help: 'Never these items, nor those matching the expression.' },
  diversity: { fields: ['attribute', 'max_items'], help: 'At most max_items items per value of the attribute.' },
  repurchase: { fields: ['window_days', 'expression'], help: 'Items bought within the window are left out; later they may come back.' },
};
const scenarios = ['for_you', 'similar', 'bought_together', 'cart', 'upsell', 'trending', 'recently_viewed', 'search'];
const fieldLabels: Record<string, string> = {
  expression: 'Expression (e.g. category == "Christmas" and price < 10)',
  weight: 'Weight',
  items: 'Item ids (comma-separated)',
  position: 'Position',
  attribute: 'Attribute (category, brand or attributes.NAME)',
  max_items: 'At most per value',
  window_days: 'Window (days)',
};

type Rule = Record<string, any>;

export async function rulesPage(api: Api, root: HTMLElement, params: URLSearchParams): Promise<void> {
  const data = await api.get('/v1/rules');
  const rules: Rule[] = data.rules;
  root.appendChild(h('h1', null, 'Rules'));
  root.appendChild(h('p', { class: 'muted' }, `Rule set version ${data.version}. A change is in force for the very next request.`));
  const editorBox = h('section', { id: 'rule-editor' });
  const edit = (rule: Rule | null) => {
    mount(editorBox, editor(api, rule));
    editorBox.scrollIntoView?.({ block: 'nearest' });
  };
  root.appendChild(h('p', null, h('button', { id: 'new-rule', onclick: () => edit(null) }, 'New rule')));
  root.appendChild(rules.length === 0 ? h('p', { class: 'empty' }, 'No rules yet.') :
    h('table', { class: 'table', id: 'rules' },
      h('thead', null, h('tr', null, ['Id', 'Name', 'Kind', 'Scenarios', 'Enabled', 'Revision', 'Changed by', '']
        .map((t) => h('th', null, t)))),
      h('tbody', null, rules.map((rule) => h('tr', { 'data-rule-id': rule.id },
        h('td', null, rule.id), h('td', null, rule.name ?? ''), h('td', null, rule.kind),
        h('td', null, (rule.scenarios ?? []).join(', ') || 'all'), h('td', null, rule.enabled === false ? 'no' : 'yes'),
        h('td', null, String(rule.revision ?? '')), h('td', null, rule.updated_by ?? ''),
        h('td', null,
          h('button', { onclick: () => edit(rule) }, 'Edit'), ' ',
          h('button', {
            class: 'danger',
            onclick: async () => {
              if (!confirm(`Delete rule ${rule.id}?`)) return;
              await api.delete('/v1/rules/' + encodeURIComponent(rule.id));
              window.dispatchEvent(new HashChangeEvent('hashchange'));
            },
          }, 'Delete')))))));
  root.appendChild(editorBox);
  const wanted = params.get('edit');
  if (wanted) edit(rules.find((r) => r.id === wanted) ?? null);
}

function editor(api: Api, original: Rule | null): HTMLElement {
  const rule: Rule = original ? { ...original } : { kind: 'boost', enabled: true, weight: 2 };
  const inputs: Record<string, HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement> = {};
  const messages: Record<string, HTMLElement> = {};
  const row = (name: string, label: string, input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement) => {
    inputs[name] = input;
    input.setAttribute('name', name);
    messages[name] = h('small', { class: 'field-error' });
    return h('label', { class: 'field', 'data-field': name }, h('span', null, label), input, messages[name]);
  };
  const kind = h('select', null, Object.keys(kinds).map((k) => h('option', { value: k }, k)));
  kind.value = rule.kind;
  const scenarioBoxes = scenarios.map((s) => h('input', { type: 'checkbox', value: s, checked: (rule.scenarios ?? []).includes(s) }));
  messages.scenarios = h('small', { class: 'field-error' });
  const kindHelp = h('p', { class: 'muted' });
  const specific = h('div');
  const status = h('p', { class: 'validation', role: 'status' });
  const form = h('form', { class: 'card', id: 'rule-form' },
    h('h2', null, original ? `Edit rule ${original.id}` : 'New rule'),
    original ? null : row('id', 'Id (optional)', h('input', { value: '', pattern: '[\\w.\\-]*' })),
    row('name', 'Name', h('input', { value: rule.name ?? '' })),
    row('kind', 'Kind', kind), kindHelp,
    specific,
    h('fieldset', { 'data-field': 'scenarios' }, h('legend', null, 'Scenarios (none ticked: all)'),
      scenarioBoxes.map((box) => h('label', { class: 'inline' }, box, ' ', box.value)), messages.scenarios),
    row('starts_at', 'Starts at (optional, e.g. 2026-12-01T00:00:00Z)', h('input', { value: rule.starts_at ?? '' })),
    row('ends_at', 'Ends at (optional)', h('input', { value: rule.ends_at ?? '' })),
    h('label', { class: 'inline' }, (inputs.enabled = h('input', { type: 'checkbox', checked: rule.enabled !== false })), ' enabled'),
    status);

  const drawSpecific = () => {
    kindHelp.textContent = kinds[kind.value].help;
    const rows = kinds[kind.value].fields.map((name) => {
      const value = rule[name];
      const input = name === 'expression'
        ? h('textarea', { rows: 2, spellcheck: 'false' })
        : h('input', { type: ['weight', 'position', 'max_items', 'window_days'].includes(name) ? 'number' : 'text', step: 'any' });
      input.value = value === undefined ? '' : Array.isArray(value) ? value.join(', ') : String(value);
      return row(name, fieldLabels[name], input);
    });
    mount(specific, rows);
    for (const name of Object.keys(fieldLabels)) if (!kinds[kind.value].fields.includes(name)) delete inputs[name];
  };
  drawSpecific();

  // The rule as JSON, from the form.
  const current = (): Rule => {
    const out: Rule = { kind: kind.value, enabled: (inputs.enabled as HTMLInputElement).checked };
    const text = (name: string) => (inputs[name]?.value ?? '').trim();
    if (original) out.id = original.id;
    else if (text('id')) out.id = text('id');
    if (text('name')) out.name = text('name');
    for (const name of kinds[kind.value].fields) {
      const value = text(name);
      if (!value) continue;
      if (name === 'items') out.items = value.split(',').map((s) => s.trim()).filter(Boolean);
      else if (name === 'expression' || name === 'attribute') out[name] = value;
      else out[name] = Number(value);
    }
    const ticked = scenarioBoxes.filter((b) => b.checked).map((b) => b.value);
    if (ticked.length) out.scenarios = ticked;
    if (text('starts_at')) out.starts_at = text('starts_at');
    if (text('ends_at')) out.ends_at = text('ends_at');
    return out;
  };

  let valid = false;
  const showError = (field: string | null, message: string) => {
    for (const box of Object.values(messages)) box.textContent = '';
    for (const input of Object.values(inputs)) input.classList.remove('invalid');
    const base = (field ?? '').replace(/\[\d+\]$/, '');
    if (field && messages[base]) {
      messages[base].textContent = message;
      inputs[base]?.classList.add('invalid');
    }
    status.textContent = field || message ? '✗ ' + message : '';
    status.className = 'validation ' + (message ? 'bad' : 'good');
  };
  const validate = async () => {
    try {
      await api.post('/v1/rules/validate', current());
      valid = true;
      showError(null, '');
      status.textContent = '✓ valid';
      status.className = 'validation good';
    } catch (e) {
      valid = false;
      if (e instanceof ApiError) showError(e.field, e.message);
      else showError(null, String(e));
    }
  };
  const revalidate = debounce(() => void validate(), 250);
  form.addEventListener('input', revalidate);
  kind.addEventListener('change', () => {
    Object.assign(rule, current());
    drawSpecific();
    revalidate();
  });
  void validate();

  // Preview on a shopper.
  const shopper = h('input', { id: 'preview-user', placeholder: 'user id, e.g. 18118' });
  const anchor = h('input', { id: 'preview-item', placeholder: 'item id (similar, upsell, ...)' });
  const previewScenario = h('select', { id: 'preview-scenario' },
    scenarios.filter((s) => s !== 'search').map((s) => h('option', { value: s }, s)));
  const previewBox = h('div', { id: 'preview', class: 'preview' });
  const preview = async () => {
    const items = previewScenario.value === 'cart' ? anchor.value.trim() : '';
    try {
      const result = await api.post('/v1/rules/preview' + query({
        scenario: previewScenario.value, user_id: shopper.value.trim(), n: 10,
        item_id: previewScenario.value === 'cart' ? '' : anchor.value.trim(), items,
      }), current());
      mount(previewBox, comparison(result.before, result.after));
    } catch (e) {
      mount(previewBox, h('p', { class: 'error' }, describeError(e)));
    }
  };
  const save = h('button', {
    type: 'button', id: 'save-rule',
    onclick: async () => {
      await validate();
      if (!valid) return;
      const body = current();
      try {
        const saved = original
          ? await api.put('/v1/rules/' + encodeURIComponent(original.id), body)
          : await api.post('/v1/rules', body);
        location.hash = '#/rules?saved=' + encodeURIComponent(saved.rule.id) + '&edit=' + encodeURIComponent(saved.rule.id);
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      } catch (e) {
        if (e instanceof ApiError) showError(e.field, e.message);
      }
    },
  }, original ? 'Save changes' : 'Create rule');
  // Who changed this rule when (the audit log), newest first.
  const history = h('div', { class: 'card', id: 'rule-history' });
  if (original) {
    void api.get('/v1/rules/audit' + query({ rule_id: original.id, limit: 20 })).then((audit) => {
      mount(history, h('h2', null, 'History'), h('table', { class: 'table compact' },
        h('thead', null, h('tr', null, ['When', 'Who', 'What', 'Rule set version'].map((t) => h('th', null, t)))),
        h('tbody', null, audit.entries.map((entry: any) => h('tr', null,
          h('td', null, (entry.at ?? '').slice(0, 19).replace('T', ' ')), h('td', null, entry.actor),
          h('td', null, entry.action), h('td', null, String(entry.version)))))));
    }, (e) => mount(history, h('p', { class: 'error' }, e instanceof Error ? e.message : String(e))));
  }
  return h('div', { class: 'editor' },
    form,
    h('div', { class: 'card' },
      h('h2', null, 'Preview on a shopper'),
      h('p', { class: 'muted' }, 'Their recommendations now, and with this rule saved. Nothing is saved or logged.'),
      h('label', null, h('span', null, 'Shopper'), shopper),
      h('label', null, h('span', null, 'Scenario'), previewScenario),
      h('label', null, h('span', null, 'Item (or cart items, comma-separated)'), anchor),
      h('button', { type: 'button', id: 'preview-button', onclick: () => void preview() }, 'Preview'),
      previewBox),
    h('p', null, save),
    original ? history : null);
}

// Before and after side by side; items that moved, came in or went out are marked.
function comparison(before: any[], after: any[]): HTMLElement {
  const labels: Record<string, string> = { new: 'new', gone: 'leaves', up: '▲', down: '▼' };
  // The "after" column marks what came in or moved; the "now" column what leaves.
  const column = (title: string, items: any[], other: string[], isAfter: boolean) => h('ol',
    { class: 'compare-list', 'aria-label': title },
    items.map((item, i) => {
      const j = other.indexOf(item.item_id);
      let mark = '';
      if (j < 0) mark = isAfter ? 'new' : 'gone';
      else if (isAfter && j > i) mark = 'up';
      else if (isAfter && j < i) mark = 'down';
      const effects = (item.rules ?? []).map((r: any) => r.effect).join(', ');
      return h('li', { class: mark, 'data-item-id': item.item_id, title: item.reason ?? '' },
        h('b', null, item.title || item.item_id), ' ', h('span', { class: 'muted' }, formatPrice(item.price)),
        effects ? h('span', { class: 'rule-effect' }, effects) : null,
        mark ? h('span', { class: 'mark' }, labels[mark]) : null);
    }));
  const ids = (items: any[]) => items.map((item) => item.item_id as string);
  return h('div', { class: 'compare' },
    h('div', null, h('h3', null, 'Now'), column('now', before, ids(after), false)),
    h('div', null, h('h3', null, 'With this rule'), column('with this rule', after, ids(before), true)));
}
