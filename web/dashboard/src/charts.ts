// Charts drawn as SVG, without a library: lines over time, bars, and
// estimates with their confidence intervals. Colors come from the style
// sheet's series-N classes (the page's security policy allows no inline style).
import { h } from '../../lib/dom';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

// The top of an axis with four gridlines at round steps (1, 1.5, 2, 2.5,
// 3, 4, 5, 6 or 8 times a power of ten), at or above `value`.
export function niceMax(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const quarter = value / 4;
  const power = Math.pow(10, Math.floor(Math.log10(quarter)));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * power * 4 >= value * (1 - 1e-9)) return step * power * 4;
  }
  return 40 * power;
}

export interface Series {
  name: string;
  values: (number | null)[];  // null: no value (a gap)
}

export interface LineChartOptions {
  title: string;
  labels: string[];           // one per point, e.g. the hour
  series: Series[];
  format?: (value: number) => string;
  width?: number;
  height?: number;
}

const margin = { left: 56, right: 12, top: 12, bottom: 28 };

export function lineChart(options: LineChartOptions): HTMLElement {
  const width = options.width ?? 560;
  const height = options.height ?? 200;
  const format = options.format ?? ((v: number) => v.toLocaleString('en-GB', { maximumFractionDigits: 2 }));
  const count = options.labels.length;
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  let top = 0;
  for (const series of options.series) {
    for (const value of series.values) if (value !== null && Number.isFinite(value)) top = Math.max(top, value);
  }
  top = niceMax(top);
  const x = (i: number) => margin.left + (count <= 1 ? plotWidth / 2 : (i * plotWidth) / (count - 1));
  const y = (v: number) => margin.top + plotHeight - (v / top) * plotHeight;

  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': options.title });
  for (let g = 0; g <= 4; ++g) {
    const value = (top * g) / 4;
    chart.appendChild(svg('line', { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value), class: 'grid' }));
    chart.appendChild(svg('text', { x: margin.left - 6, y: y(value) + 4, class: 'axis', 'text-anchor': 'end' }, format(value)));
  }
  const every = Math.max(1, Math.ceil(count / 6));
  for (let i = 0; i < count; i += every) {
    // The edge labels lean inwards so that they are not cut.
    const anchor = count > 1 && i === 0 ? 'start' : count > 1 && i === count - 1 ? 'end' : 'middle';
    chart.appendChild(svg('text', { x: x(i), y: height - 8, class: 'axis', 'text-anchor': anchor }, options.labels[i]));
  }
  options.series.forEach((series, s) => {
    let d = '';
    let pen = false;
    series.values.forEach((value, i) => {
      if (value === null || !Number.isFinite(value)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(value).toFixed(1)}`;
      pen = true;
    });
    if (d) chart.appendChild(svg('path', { d, class: `line series-${s % 8}`, 'data-series': series.name }));
    // A lone point would draw nothing as a line: mark points when few.
    if (count <= 48) {
      series.values.forEach((value, i) => {
        if (value === null || !Number.isFinite(value)) return;
        chart.appendChild(svg('circle', { cx: x(i), cy: y(value), r: 2.5, class: `dot series-${s % 8}` }));
      });
    }
  });
  // Hover: each column tells its values.
  const column = count <= 1 ? plotWidth : plotWidth / (count - 1);
  for (let i = 0; i < count; ++i) {
    // Each column's band, kept inside the plot.
    const left = Math.max(margin.left, x(i) - column / 2);
    const right = Math.min(width - margin.right, x(i) + column / 2);
    const hit = svg('rect', { x: left, y: margin.top, width: Math.max(right - left, 1), height: plotHeight, class: 'hit' });
    const lines = options.series.map((series) => {
      const value = series.values[i];
      return `${series.name}: ${value === null || !Number.isFinite(value) ? '–' : format(value)}`;
    });
    hit.appendChild(svg('title', {}, [options.labels[i], ...lines].join('\n')));
    chart.appendChild(hit);
  }
  return h('figure', { class: 'chart-box' },
    h('figcaption', null, options.title),
    chart,
    legend(options.series.map((series) => series.name)));
}

function legend(names: string[]): HTMLElement {
  return h('div', { class: 'legend' },
    names.map((name, s) => h('span', { class: 'legend-item' }, h('i', { class: `swatch series-${s % 8}` }), name)));
}

export interface Bar {
  label: string;
  value: number | null;
  highlight?: boolean;
}

export function barChart(title: string, bars: Bar[], format: (v: number) => string = (v) => v.toFixed(3)): HTMLElement {
  const row = 22;
  const width = 560;
  const labelWidth = 170;
  const height = bars.length * row + 8;
  let top = 0;
  for (const bar of bars) if (bar.value !== null && Number.isFinite(bar.value)) top = Math.max(top, bar.value);
  top = niceMax(top);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title });
  bars.forEach((bar, i) => {
    const y = 4 + i * row;
    chart.appendChild(svg('text', { x: labelWidth - 8, y: y + 15, class: 'axis', 'text-anchor': 'end' }, bar.label));
    const value = bar.value !== null && Number.isFinite(bar.value) ? bar.value : 0;
    const w = ((width - labelWidth - 70) * value) / top;
    chart.appendChild(svg('rect', { x: labelWidth, y: y + 3, width: Math.max(w, 0.5), height: row - 8,
      class: bar.highlight ? 'bar highlight' : 'bar' }));
    chart.appendChild(svg('text', { x: labelWidth + w + 6, y: y + 15, class: 'value' },
      bar.value === null || !Number.isFinite(bar.value) ? '–' : format(bar.value)));
  });
  return h('figure', { class: 'chart-box' }, h('figcaption', null, title), chart);
}

export interface Estimate {
  label: string;
  value: number | null;
  low: number | null;
  high: number | null;
  note?: string;  // e.g. "p = 0.02"
  control?: boolean;
}

// Each group's estimate as a dot with its interval as a whisker, on one
// scale, with the control's value as a dashed reference line.
export function intervalChart(title: string, rows: Estimate[], format: (v: number) => string): HTMLElement {
  const row = 28;
  const width = 560;
  const labelWidth = 110;
  const noteWidth = 150;
  const height = rows.length * row + 30;
  const finite = (v: number | null): v is number => v !== null && Number.isFinite(v);
  let low = Infinity;
  let high = -Infinity;
  for (const r of rows) {
    for (const v of [r.value, r.low, r.high]) {
      if (finite(v)) {
        low = Math.min(low, v);
        high = Math.max(high, v);
      }
    }
  }
  if (!Number.isFinite(low)) {
    low = 0;
    high = 1;
  }
  if (low > 0 && low < (high - low) * 2) low = 0;  // start at zero unless far from it
  if (low === 0) {
    high = niceMax(high);  // round ticks from zero
  } else {
    const pad = (high - low || Math.abs(high) || 1) * 0.08;
    low -= pad;
    high += pad;
  }
  const plotLeft = labelWidth;
  const plotRight = width - noteWidth;
  const x = (v: number) => plotLeft + ((v - low) / (high - low)) * (plotRight - plotLeft);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title });
  for (const tick of [low, (low + high) / 2, high]) {
    chart.appendChild(svg('line', { x1: x(tick), x2: x(tick), y1: 4, y2: height - 22, class: 'grid' }));
    chart.appendChild(svg('text', { x: x(tick), y: height - 6, class: 'axis', 'text-anchor': 'middle' }, format(tick)));
  }
  const control = rows.find((r) => r.control);
  if (control && finite(control.value)) {
    chart.appendChild(svg('line', { x1: x(control.value), x2: x(control.value), y1: 4, y2: height - 22, class: 'reference' }));
  }
  rows.forEach((r, i) => {
    const y = 16 + i * row;
    chart.appendChild(svg('text', { x: labelWidth - 8, y: y + 4, class: 'axis', 'text-anchor': 'end' }, r.label));
    if (finite(r.low) && finite(r.high)) {
      chart.appendChild(svg('line', { x1: x(r.low), x2: x(r.high), y1: y, y2: y, class: 'whisker' }));
      for (const end of [r.low, r.high]) {
        chart.appendChild(svg('line', { x1: x(end), x2: x(end), y1: y - 5, y2: y + 5, class: 'whisker' }));
      }
    }
    if (finite(r.value)) {
      const dot = svg('circle', { cx: x(r.value), cy: y, r: 4.5, class: r.control ? 'estimate control' : 'estimate' });
      dot.appendChild(svg('title', {}, `${r.label}: ${format(r.value)}` +
        (finite(r.low) && finite(r.high) ? ` (95% CI ${format(r.low)} to ${format(r.high)})` : '')));
      chart.appendChild(dot);
    }
    chart.appendChild(svg('text', { x: plotRight + 8, y: y + 4, class: 'value' },
      (finite(r.value) ? format(r.value) : '–') + (r.note ? '  ' + r.note : '')));
  });
  return h('figure', { class: 'chart-box' }, h('figcaption', null, title), chart);
}
