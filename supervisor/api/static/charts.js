// Small charts, drawn as SVG by hand (no library, no build step): bars for what is counted per
// bucket (messages, restarts), a line for what is sampled (memory, CPU, webhook queue). Each
// says what it shows in words too: a caption with the latest value, and an aria-label.
// Colours come from the stylesheet (classes), never from inline styles (the page's CSP).

import {h} from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 300;
const H = 100;
const TOP = 12;
const BOTTOM = 84; // the baseline; the time labels go under it

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== null) el.textContent = text;
  return el;
}

function hhmm(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
}

function span(seconds) {
  return seconds >= 5400 ? `${Math.round(seconds / 3600)} hours` : `${Math.round(seconds / 60)} minutes`;
}

/** The last value of `values` that is not null (and its index), or null. */
export function latest(values) {
  for (let i = values.length - 1; i >= 0; i -= 1) {
    if (values[i] !== null && values[i] !== undefined) return {value: values[i], index: i};
  }
  return null;
}

/**
 * A chart: `spec` = {id, title, kind: 'bars'|'line', series: [{key, label}], format(n) → text,
 * latestLabel (bars: what the last bucket is, e.g. 'this hour')}. Returns {el, update(data)}
 * where `data` is an answer of GET /api/history (with `span_s`, the range asked for).
 */
export function chart(spec) {
  const value = h('span.chart-latest', {id: `${spec.id}-latest`}, '—');
  const figure = h('figure.chart', {id: spec.id, dataset: {points: '0'}},
    h('figcaption', {}, h('span.chart-title', {}, spec.title), ' ', value));
  const drawing = svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', class: `chart-svg chart-${spec.kind}`,
    'aria-label': `${spec.title}: no data yet`});
  figure.append(drawing);
  if (spec.series.length > 1) {
    figure.append(h('ul.chart-legend', {}, spec.series.map((s, i) =>
      h(`li.s${i}`, {}, h('span.swatch', {'aria-hidden': 'true'}), s.label))));
  }

  const update = (data) => {
    const times = data.times || [];
    const lists = spec.series.map((s) => data.series?.[s.key] || []);
    const n = times.length;
    const highest = Math.max(0, ...lists.flat().filter((v) => typeof v === 'number'));
    const top = highest > 0 ? highest : 1;
    const y = (v) => BOTTOM - (v / top) * (BOTTOM - TOP);
    const slot = n ? W / n : W;
    const parts = [svg('line', {x1: 0, x2: W, y1: BOTTOM, y2: BOTTOM, class: 'axis'}),
      svg('line', {x1: 0, x2: W, y1: TOP, y2: TOP, class: 'grid'})];
    if (highest > 0) parts.push(svg('text', {x: 2, y: TOP - 3, class: 'label'}, spec.format(highest)));
    let points = 0;
    lists.forEach((values, si) => {
      if (spec.kind === 'bars') {
        const width = Math.max(1, (slot - 1) / lists.length);
        values.forEach((v, i) => {
          if (!v) return;
          points += 1;
          const x = i * slot + si * width;
          const bar = svg('rect', {x: x.toFixed(2), y: y(v).toFixed(2), width: width.toFixed(2),
            height: (BOTTOM - y(v)).toFixed(2), class: `bar s${si}`});
          bar.append(svg('title', {}, `${hhmm(times[i])}: ${spec.format(v)}`));
          parts.push(bar);
        });
        return;
      }
      let run = [];
      const flush = () => {
        if (run.length > 1) parts.push(svg('polyline', {points: run.join(' '), class: `line s${si}`}));
        run = [];
      };
      values.forEach((v, i) => {
        if (v === null || v === undefined) {
          flush();
          return;
        }
        points += 1;
        const x = ((i + 0.5) * slot).toFixed(2);
        run.push(`${x},${y(v).toFixed(2)}`);
        const point = svg('circle', {cx: x, cy: y(v).toFixed(2), r: 1.8, class: `point s${si}`});
        point.append(svg('title', {}, `${hhmm(times[i])}: ${spec.format(v)}`));
        parts.push(point);
      });
      flush();
    });
    if (n) {
      parts.push(svg('text', {x: 2, y: H - 3, class: 'label'}, `${span(data.span_s ?? data.until - data.since)} ago`),
        svg('text', {x: W - 2, y: H - 3, class: 'label end'}, 'now'));
    }
    drawing.replaceChildren(...parts);
    figure.dataset.points = String(points);

    const last = latest(lists[0]);
    let text;
    if (spec.kind === 'bars') {
      const now = spec.series.map((s, i) => `${spec.format(lists[i][n - 1] ?? 0)}${spec.series.length > 1 ? ` ${s.label.toLowerCase()}` : ''}`);
      text = `${now.join(', ')} ${spec.latestLabel}`;
    } else {
      text = last ? spec.format(last.value) : 'no sample yet';
    }
    value.textContent = text;
    figure.dataset.latest = String(spec.kind === 'bars' ? lists[0][n - 1] ?? 0 : last?.value ?? '');
    const range = n ? span(data.span_s ?? data.until - data.since) : '';
    drawing.setAttribute('aria-label', `${spec.title}, last ${range}: ${text}; highest ${spec.format(highest)}.`);
  };
  return {el: figure, update};
}
