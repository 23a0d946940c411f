// Sessions: the table (state, node in a cluster, phone, role, memory, uptime, restarts, last
// error, actions) and the form that creates one. Rows are kept and updated in place, so focus
// survives updates.

import {post} from './api.js';
import {fill, h, setText} from './dom.js';
import {bytes, duration, phone, showState} from './format.js';
import {onChange, rolesOf, scheduleRefresh, store, uptimeOf} from './store.js';
import {actionBar, notify, report} from './ui.js';

const COLUMNS = ['Session', 'State', 'Node', 'Phone', 'Role', 'Memory', 'Uptime', 'Restarts', 'Queue', 'Last error', 'Actions'];
// Shown only on a node of a cluster (the listing then says where each session runs).
const CLUSTER_ONLY = new Set(['Node']);

function createForm(navigate) {
  const id = h('input', {id: 'new-id', name: 'id', autocomplete: 'off', spellcheck: false,
    pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]{0,63}', placeholder: 'e.g. sales',
    title: 'Letters, digits, "_" or "-" (up to 64), starting with a letter or digit',
    'aria-describedby': 'new-id-hint'});
  const start = h('input', {id: 'new-start', name: 'start', type: 'checkbox', checked: true});
  const button = h('button.primary', {type: 'submit'}, '+ Create session');
  const form = h('form.create', {'aria-labelledby': 'h-create'},
    h('h2', {id: 'h-create'}, 'New session'),
    h('div.row', {},
      h('div.field', {}, h('label', {for: 'new-id'}, 'Session id'), id,
        h('p.hint', {id: 'new-id-hint'}, 'Optional: a name is generated when empty.')),
      h('div.field.check', {}, start, h('label', {for: 'new-start'}, 'Start now')),
      button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      const body = {start: start.checked};
      if (id.value.trim()) body.id = id.value.trim();
      const created = await post('/api/sessions', body);
      notify(`Session ${created.id} created.`, {session: created.id});
      id.value = '';
      scheduleRefresh();
      navigate(`/sessions/${encodeURIComponent(created.id)}`);
    } catch (err) {
      report(err, 'Creating the session');
      id.focus();
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function makeRow(session) {
  const cells = {};
  const cell = (name, label, ...content) => {
    cells[name] = h(CLUSTER_ONLY.has(label) ? 'td.cluster-only' : 'td', {dataset: {label}}, ...content);
    return cells[name];
  };
  const link = h('a', {href: `/sessions/${encodeURIComponent(session.id)}`, dataset: {nav: ''}}, session.id);
  const state = h('span');
  const actions = actionBar(session, {compact: true});
  const tr = h('tr', {dataset: {session: session.id}},
    h('th', {scope: 'row', dataset: {label: 'Session'}}, link),
    cell('state', 'State', state), cell('node', 'Node'), cell('phone', 'Phone'), cell('role', 'Role'),
    cell('memory', 'Memory'), cell('uptime', 'Uptime'), cell('restarts', 'Restarts'),
    cell('queue', 'Queue'),
    cell('error', 'Last error'), cell('actions', 'Actions', actions.el));
  const update = (s) => {
    showState(state, s.state);
    if (s.state !== 'SCAN_QR_CODE') setText(cells.phone, phone(s.phone_number));
    else if (!cells.phone.querySelector('a')) {
      fill(cells.phone, h('a', {href: link.getAttribute('href'), dataset: {nav: ''}}, 'Show QR code'));
    }
    setText(cells.node, s.node || '—');
    setText(cells.role, rolesOf(s.id).join(', ') || '—');
    setText(cells.memory, bytes(s.memory_bytes));
    setText(cells.uptime, duration(uptimeOf(s)));
    setText(cells.restarts, s.restarts);
    setText(cells.queue, s.queue_depth ? `${s.queue_depth} queued` : '—');
    setText(cells.error, s.last_error || '—');
    cells.error.title = s.last_error || '';
    actions.update(s);
  };
  update(session);
  return {tr, update, tick: (s) => setText(cells.uptime, duration(uptimeOf(s)))};
}

export function sessionsView(main, {navigate}) {
  const tbody = h('tbody');
  const empty = h('p.empty', {}, 'No sessions yet. Create one above.');
  const error = h('p.error', {role: 'alert'});
  const table = h('table.list.sessions', {id: 'sessions-table'},
    h('caption.visually-hidden', {}, 'Sessions'),
    h('thead', {}, h('tr', {}, COLUMNS.map((c) => h(CLUSTER_ONLY.has(c) ? 'th.cluster-only' : 'th', {scope: 'col'}, c)))),
    tbody);
  main.replaceChildren(
    h('h1', {tabIndex: -1}, 'Sessions'),
    createForm(navigate),
    error,
    h('div.table-wrap', {}, table),
    empty,
  );
  document.title = 'Sessions · zapvisor';

  const rows = new Map();
  const render = () => {
    setText(error, store.error && store.error.status !== 401 ? `Could not load: ${store.error.message}` : '');
    table.classList.toggle('clustered', store.clustered === true);
    const ids = [...store.sessions.keys()].sort();
    for (const [id, row] of rows) {
      if (!store.sessions.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    ids.forEach((id, index) => {
      const session = store.sessions.get(id);
      let row = rows.get(id);
      if (!row) {
        row = makeRow(session);
        rows.set(id, row);
      } else {
        row.update(session);
      }
      if (tbody.children[index] !== row.tr) tbody.insertBefore(row.tr, tbody.children[index] ?? null);
    });
    empty.hidden = ids.length > 0;
    table.hidden = ids.length === 0;
  };
  render();
  const off = onChange(render);
  const tick = setInterval(() => {
    for (const [id, row] of rows) {
      const session = store.sessions.get(id);
      if (session) row.tick(session);
    }
  }, 1000);
  return () => {
    off();
    clearInterval(tick);
  };
}
