// Overview: sessions by state, host memory and CPU, messages, restarts, the daemon itself,
// charts of the last day, and the latest activity (from the daemon's history, then live); all
// of it follows the event stream.

import {fill, h, setText} from './dom.js';
import {STATES, STATE_ORDER, bytes, duration, percent, showState} from './format.js';
import {onChange, store} from './store.js';
import {overviewTrends} from './trends.js';
import {eventItem} from './ui.js';

const ACTIVITY = 12;

const slug = (title) => `h-${title.toLowerCase().replace(/\W+/g, '-')}`;

function card(title, ...body) {
  return h('section.card', {'aria-labelledby': slug(title)}, h('h2', {id: slug(title)}, title), ...body);
}

/** A big number with its label under it. */
function big(id, label) {
  const value = h('span.big-value', {id}, '—');
  return {value, el: h('p.big', {}, value, h('span.big-label', {}, label))};
}

function line(id) {
  return h('p.line', {id});
}

function meter(id, label) {
  return h('meter', {id, min: 0, max: 100, low: 70, high: 90, optimum: 0, 'aria-label': label});
}

export function overview(main) {
  const stateRows = new Map(STATE_ORDER.map((state) => {
    const count = h('span.count', {}, '0');
    const link = h('a.state-count', {href: '/sessions', dataset: {nav: '', state}},
      showState(h('span'), state), count);
    return [state, {count, link, el: h('li', {}, link)}];
  }));
  const total = big('total-sessions', 'sessions');
  const mem = big('host-memory-percent', 'memory used');
  const cpu = big('host-cpu', 'CPU busy');
  const received = big('messages-in', 'received');
  const sent = big('messages-out', 'sent');
  const restarts = big('restarts', 'restarts recorded');
  const memMeter = meter('host-memory-meter', 'Host memory used');
  const cpuMeter = meter('host-cpu-meter', 'Host CPU busy');
  const daemon = {};
  const fig = (key, label) => {
    daemon[key] = h('dd', {id: `daemon-${key}`});
    return [h('dt', {}, label), daemon[key]];
  };
  const activity = h('ol.activity', {id: 'activity'});
  const activityEmpty = h('p.hint', {}, 'Events appear here as they happen.');
  const trends = overviewTrends();

  main.replaceChildren(
    h('h1', {tabIndex: -1}, 'Overview'),
    h('div.cards', {},
      card('Sessions', total.el,
        h('ul.state-counts', {}, [...stateRows.values()].map((r) => r.el)),
        h('p', {}, h('a', {href: '/sessions', dataset: {nav: ''}}, 'Manage sessions →'))),
      card('Host memory', mem.el, memMeter, line('host-memory'), line('host-memory-available')),
      card('Host CPU', cpu.el, cpuMeter, line('host-cpu-cores'), line('host-load')),
      card('Messages', h('div.pair', {}, received.el, sent.el), h('p.hint', {}, 'Since the daemon started.')),
      card('Restarts', restarts.el, line('restarts-detail'), line('breaker')),
      card('Daemon', h('dl.figures', {}, fig('uptime', 'Uptime'), fig('memory', 'Memory'),
        fig('sessions-memory', 'Sessions memory'), fig('limit', 'Session limit')))),
    trends.el,
    h('section.card.wide', {'aria-labelledby': 'h-activity'},
      h('h2', {id: 'h-activity'}, 'Latest activity'), activityEmpty, activity),
  );
  document.title = 'Overview · zapvisor';
  const text = (id, value) => setText(main.querySelector(`#${id}`), value);

  const render = () => {
    const stats = store.stats;
    if (!stats) return;
    setText(total.value, stats.sessions);
    for (const [state, row] of stateRows) {
      const n = stats.by_state?.[state] ?? 0;
      setText(row.count, n);
      row.el.classList.toggle('zero', n === 0);
      row.link.setAttribute('aria-label', `${STATES[state].label}: ${n}`);
    }
    const host = stats.host || {};
    memMeter.value = host.memory_percent ?? 0;
    setText(mem.value, percent(host.memory_percent));
    text('host-memory', host.memory_total_bytes
      ? `${bytes(host.memory_total_bytes - host.memory_available_bytes)} of ${bytes(host.memory_total_bytes)}`
      : '');
    text('host-memory-available', host.memory_available_bytes ? `${bytes(host.memory_available_bytes)} available` : '');
    cpuMeter.value = host.cpu_percent ?? 0;
    setText(cpu.value, percent(host.cpu_percent));
    text('host-cpu-cores', host.cpu_count ? `${host.cpu_count} cores` : '');
    text('host-load', host.load_1m === undefined ? '' : `Load ${host.load_1m.toFixed(2)} (1 min)`);
    setText(received.value, stats.messages?.received ?? '—');
    setText(sent.value, stats.messages?.sent ?? '—');
    setText(restarts.value, stats.restarts);
    const reasons = Object.entries(stats.restarts_by_reason || {}).map(([k, v]) => `${k} ${v}`);
    text('restarts-detail', reasons.length ? `This run: ${reasons.join(', ')}` : 'None in this run.');
    text('breaker', stats.breaker_open ? '⚠ Crash breaker open: restarts are held'
      : `Crash breaker closed (${stats.breaker_trips} trips)`);
    setText(daemon.uptime, duration(stats.uptime_s));
    setText(daemon.memory, bytes(stats.supervisor_rss_bytes));
    setText(daemon['sessions-memory'], bytes(stats.sessions_memory_bytes));
    setText(daemon.limit, String(stats.max_sessions));
  };

  let shownActivity = null;
  const renderActivity = () => {
    const latest = store.recent.slice(0, ACTIVITY);
    const key = latest.map((e) => e.id).join(',');
    if (key === shownActivity) return;
    shownActivity = key;
    fill(activity, latest.map((e) => eventItem(e, true)));
    activityEmpty.hidden = latest.length > 0;
  };

  const update = () => {
    render();
    renderActivity();
  };
  update();
  const offChange = onChange(update);
  return () => {
    offChange();
    trends.stop();
  };
}
