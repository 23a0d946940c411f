// The views' charts, fed by GET /api/history (series added up server-side into buckets):
// loaded when shown, again after the events they count (at most once per RELOAD_GAP_MS,
// however many arrive) and every minute (new samples, the clock moving on).

import {get} from './api.js';
import {chart} from './charts.js';
import {h} from './dom.js';
import {bytes, percent} from './format.js';
import {onEvent} from './store.js';

const RELOAD_GAP_MS = 5000;
// The server's clock minus this browser's, learnt from each answer: ranges are asked for on the
// server's clock, whatever this machine's says.
let clockOffset = 0;
const EVERY_MS = 60000;
const HOUR = 3600;

const count = (n) => String(Math.round(n));
const messages = (id) => ({
  id, query: 'day', title: 'Messages per hour', kind: 'bars', format: count, latestLabel: 'this hour',
  series: [{key: 'messages_received', label: 'Received'}, {key: 'messages_sent', label: 'Sent'}],
});

/**
 * A card of charts: `queries` = {name: {span_s, bucket_s}}, `charts` = chart specs (charts.js)
 * each naming its `query`; `session` = a session's id, or null for the whole daemon;
 * `reloadOn` = the names of the events that change what is drawn. Returns {el, stop()}.
 */
export function trends({id, title, session = null, queries, charts, reloadOn}) {
  const made = charts.map((spec) => ({spec, ...chart(spec)}));
  const note = h('p.hint', {}, '');
  const el = h('section.card.wide.trends', {id, 'aria-labelledby': `${id}-title`},
    h('h2', {id: `${id}-title`}, title), h('div.charts', {}, made.map((c) => c.el)), note);
  let closed = false;
  let timer = null;
  let lastRun = -Infinity;
  let loading = false;
  let again = false;

  const load = async () => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    lastRun = performance.now();
    try {
      await Promise.all(Object.entries(queries).map(async ([name, q]) => {
        const since = Math.max(0, Math.floor(Date.now() / 1000 + clockOffset - q.span_s));
        const params = new URLSearchParams({since: String(since), bucket: String(q.bucket_s)});
        if (session) params.set('session', session);
        const data = await get(`/api/history?${params}`);
        clockOffset = data.until - Date.now() / 1000;
        if (closed) return;
        for (const c of made) if (c.spec.query === name) c.update({...data, span_s: q.span_s});
      }));
      note.textContent = '';
    } catch (err) {
      if (err.status !== 401 && !closed) note.textContent = `The charts could not be loaded: ${err.message}`;
    } finally {
      loading = false;
      if (again && !closed) {
        again = false;
        soon();
      }
    }
  };

  const soon = () => {
    if (timer !== null || closed) return;
    timer = setTimeout(() => {
      timer = null;
      load();
    }, Math.max(250, lastRun + RELOAD_GAP_MS - performance.now()));
  };

  const off = onEvent((event) => {
    if (reloadOn.has(event.event) && (!session || event.session === session)) soon();
  });
  const every = setInterval(load, EVERY_MS);
  load();
  return {
    el,
    stop() {
      closed = true;
      off();
      clearInterval(every);
      clearTimeout(timer);
    },
  };
}

const COUNTED = ['message', 'message.sent', 'session.restart', 'session.recycled'];

/** The overview's charts: the whole daemon over the last day. */
export function overviewTrends() {
  return trends({
    id: 'trends', title: 'Last 24 hours', reloadOn: new Set(COUNTED),
    queries: {day: {span_s: 24 * HOUR, bucket_s: HOUR}, recent: {span_s: 3 * HOUR, bucket_s: 300}},
    charts: [
      messages('chart-messages'),
      {id: 'chart-restarts', query: 'day', title: 'Restarts per hour', kind: 'bars', format: count,
        latestLabel: 'this hour', series: [{key: 'restarts', label: 'Restarts'}]},
      {id: 'chart-webhooks', query: 'recent', title: 'Webhook queue', kind: 'line',
        format: (n) => `${Math.round(n)} waiting`, series: [{key: 'webhook_queue_max', label: 'Waiting'}]},
    ],
  });
}

/** A session's charts: memory and CPU over the last two hours, messages over the last day. */
export function sessionTrends(session) {
  return trends({
    id: 'trends', title: 'Over time', session, reloadOn: new Set([...COUNTED, 'session.resource']),
    queries: {day: {span_s: 24 * HOUR, bucket_s: HOUR}, recent: {span_s: 2 * HOUR, bucket_s: 60}},
    charts: [
      {id: 'chart-memory', query: 'recent', title: 'Memory', kind: 'line', format: bytes,
        series: [{key: 'memory_bytes', label: 'Memory'}]},
      {id: 'chart-cpu', query: 'recent', title: 'CPU', kind: 'line', format: percent,
        series: [{key: 'cpu_percent', label: 'CPU'}]},
      messages('chart-session-messages'),
    ],
  });
}
