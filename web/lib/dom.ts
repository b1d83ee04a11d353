// Small DOM helpers shared by the dashboard and the demo store. Text is
// always set through textContent, never parsed as HTML.

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

// h('div', {class: 'card', onclick: f}, 'text', child...)
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes | null = null,
  ...children: Children
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      element.addEventListener(name.replace(/^on/, ''), value);
    } else if (name === 'value' && 'value' in element) {
      (element as unknown as { value: string }).value = String(value);
    } else if (name === 'checked' && element instanceof HTMLInputElement) {
      element.checked = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

type Children = (Child | Children)[];

export function append(parent: Node, children: Children): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

// Replaces everything inside `parent`.
export function mount(parent: Element, ...children: Children): void {
  parent.replaceChildren();
  append(parent, children);
}

export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatPercent(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return (100 * value).toFixed(digits) + '%';
}

export function formatPrice(value: number | null | undefined, currency = ''): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '';
  const symbol = currency === 'GBP' ? '£' : currency === 'EUR' ? '€' : currency === 'USD' ? '$' : '';
  return symbol ? symbol + value.toFixed(2) : value.toFixed(2) + (currency ? ' ' + currency : '');
}

// "#/item/85123A?x=1" -> {path: ['item', '85123A'], query: {x: '1'}}
export function parseHash(hash: string): { path: string[]; query: URLSearchParams } {
  const text = hash.replace(/^#\/?/, '');
  const [path, query] = text.split('?', 2);
  return {
    path: path.split('/').filter(Boolean).map((part) => decodeURIComponent(part)),
    query: new URLSearchParams(query ?? ''),
  };
}

export function debounce<A extends unknown[]>(f: (...args: A) => void, ms: number): (...args: A) => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (...args: A) => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => f(...args), ms);
  };
}
