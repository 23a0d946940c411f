// One session: its QR code (large, following each new one) or the phone number it is linked
// to with what WhatsApp Web says, its figures and roles, the actions, charts of its memory, CPU
// and messages, a form to send a test message, its send queue, and its recent events.

import {sessionPath} from './api.js';
import {fill, h, setText} from './dom.js';
import {bytes, duration, percent, phone, showState} from './format.js';
import {qrFigure} from './qr.js';
import {queuePanel} from './queue.js';
import {sendForm, withMedia} from './send.js';
import {QUIET_EVENTS, onChange, onEvent, rolesOf, scheduleRefresh, store, uptimeOf} from './store.js';
import {EventStream} from './stream.js';
import {sessionTrends} from './trends.js';
import {actionBar, assignRole, dismissToasts, eventItem, leaveRole} from './ui.js';

const MAX_EVENTS = 60;

const WAITING = {
  STARTING: 'Starting Chrome and WhatsApp Web… the QR code appears here.',
  SCAN_QR_CODE: 'Waiting for the QR code…',
  STOPPING: 'Stopping…',
  STOPPED: 'Stopped. Start the session to link a phone.',
  FAILED: 'Failed. Start it again once the cause (below) is fixed.',
};

function figures(cls, entries) {
  const rows = {};
  const el = h(cls, {}, entries.map(([key, label]) => {
    rows[key] = h('dd', {id: `detail-${key}`});
    return [h('dt', {}, label), rows[key]];
  }));
  return {el, rows};
}

/** What a linked session shows in place of the QR code: the number, and WhatsApp Web's figures. */
function linkedPanel() {
  const info = figures('dl.wa-figures', [['wa-version', 'WhatsApp Web'], ['sync', 'Synced'],
    ['queue', 'Send queue'], ['messages', 'Messages']]);
  const el = h('div.linked', {id: 'linked', hidden: true},
    h('p.linked-line', {}, h('span.linked-icon', {'aria-hidden': 'true'}, '✔'), ' Linked to WhatsApp as'),
    h('p.linked-phone', {id: 'linked-phone'}), info.el);
  const update = (session, working) => {
    el.hidden = !working;
    setText(el.querySelector('#linked-phone'), working ? phone(session.phone_number) : '');
    const r = info.rows;
    setText(r['wa-version'], session.wa_version || '—');
    setText(r.sync, session.sync_percent === null || session.sync_percent === undefined ? '—' : `${session.sync_percent} %`);
    setText(r.queue, session.queue_depth ? `${session.queue_depth} waiting` : 'empty');
    const counts = store.stats?.per_session?.find((s) => s.id === session.id);
    setText(r.messages, counts ? `${counts.messages_sent} sent · ${counts.messages_received} received` : '—');
  };
  return {el, update};
}

export function sessionView(main, {params, navigate}) {
  const id = decodeURIComponent(params[0]);
  const state = h('span', {id: 'session-state'});
  const title = h('h1', {tabIndex: -1}, h('span.session-id', {}, id), ' ', state);
  const actions = actionBar({id, state: 'STOPPED'}, {afterDelete: () => navigate('/sessions')});

  const linked = linkedPanel();
  const waiting = h('p.waiting', {id: 'login-waiting'});
  const loginPanel = h('section.card.login-panel', {'aria-labelledby': 'h-login', 'aria-live': 'polite'},
    h('h2', {id: 'h-login'}, 'WhatsApp'));
  const qr = qrFigure(id, loginPanel, () => {
    waiting.hidden = true;
  });
  loginPanel.append(qr.figure, linked.el, waiting);

  const info = figures('dl.details', [['since', 'In this state since'], ['phone', 'Phone number'],
    ['memory', 'Memory'], ['cpu', 'CPU'], ['processes', 'Processes'], ['uptime', 'Uptime'],
    ['restarts', 'Restarts'], ['exit', 'Last exit'], ['error', 'Last error'],
    ['pids', 'Worker / Chrome pid'], ['node', 'Node'], ['created', 'Created']]);
  const roles = h('ul.roles', {id: 'session-roles'});
  const assign = h('button', {type: 'button', id: 'assign-role'}, '⚑ Assign to a role');
  const send = sendForm(id);
  const queue = queuePanel(id);
  const trends = sessionTrends(id);
  const events = h('ol.events', {id: 'session-events'});
  const eventsNote = h('p.hint', {}, 'Loading recent events…');
  const gone = h('p.error', {role: 'alert', hidden: true},
    `Session ${id} does not exist (any more). `,
    h('a', {href: '/sessions', dataset: {nav: ''}}, 'Back to the sessions'));

  main.replaceChildren(
    h('p.crumbs', {}, h('a', {href: '/sessions', dataset: {nav: ''}}, '← Sessions')),
    title, gone, actions.el,
    h('div.session-grid', {},
      loginPanel,
      h('section.card', {'aria-labelledby': 'h-details'}, h('h2', {id: 'h-details'}, 'Details'), info.el,
        h('h3', {}, 'Roles'), roles, assign),
      h('section.card', {'aria-labelledby': 'h-send'}, h('h2.visually-hidden', {id: 'h-send'}, 'Send'), send.form),
      h('section.card', {'aria-labelledby': 'h-events'},
        h('h2', {id: 'h-events'}, 'Recent events'), eventsNote, events),
      queue.el,
      trends.el),
  );
  document.title = `${id} · zapvisor`;

  let shownRoles = null;
  const renderRoles = (session) => {
    const mine = rolesOf(id);
    if (shownRoles === mine.join(',')) return;
    shownRoles = mine.join(',');
    fill(roles, mine.length ? mine.map((role) => h('li', {},
      h('span', {}, role), ' ',
      h('button.quiet.small', {type: 'button', 'aria-label': `Remove ${id} from role ${role}`,
        onclick: () => leaveRole(session, role)}, 'Remove'))) : h('li.none', {}, 'No role.'));
  };

  const render = () => {
    const session = store.sessions.get(id);
    if (!session) {
      if (store.stats && !store.error) {
        gone.hidden = false;
        actions.el.hidden = true;
      }
      return;
    }
    gone.hidden = true;
    actions.el.hidden = false;
    showState(state, session.state);
    actions.update(session);
    const scanning = session.state === 'SCAN_QR_CODE';
    const working = session.state === 'WORKING';
    if (!scanning) qr.hide();
    else if (!qr.shown()) qr.load();
    if (working) dismissToasts(id);
    linked.update(session, working);
    loginPanel.classList.toggle('working', working);
    waiting.hidden = working || (scanning && qr.shown());
    setText(waiting, WAITING[session.state] ?? session.state);
    send.fieldset.disabled = !working;
    const r = info.rows;
    setText(r.since, new Date(session.since).toLocaleString());
    setText(r.phone, phone(session.phone_number));
    setText(r.memory, bytes(session.memory_bytes));
    setText(r.cpu, percent(session.cpu_percent ?? store.stats?.per_session?.find((s) => s.id === id)?.cpu_percent));
    setText(r.processes, session.processes ?? '—');
    setText(r.uptime, duration(uptimeOf(session)));
    setText(r.restarts, session.restarts);
    setText(r.exit, session.last_exit || '—');
    setText(r.error, session.last_error || '—');
    setText(r.pids, session.worker_pid ? `${session.worker_pid} / ${session.chrome_pid ?? '—'}` : '—');
    setText(r.node, session.node || '');
    r.node.hidden = r.node.previousElementSibling.hidden = !session.node; // a cluster's only
    setText(r.created, new Date(session.created_at).toLocaleString());
    renderRoles(session);
  };

  const addEvent = (event) => {
    if (QUIET_EVENTS.has(event.event)) return;
    eventsNote.hidden = true;
    events.prepend(withMedia(id, eventItem(event, false), event));
    while (events.children.length > MAX_EVENTS) events.lastElementChild.remove();
  };

  assign.addEventListener('click', () => assignRole(store.sessions.get(id) ?? {id}));
  render();
  const offChange = onChange(render);
  const offEvent = onEvent((event) => {
    if (event.session === id && event.event === 'session.qr'
        && store.sessions.get(id)?.state === 'SCAN_QR_CODE') qr.load();
  });
  // This session's own stream, from the start of the daemon's history: its recent events.
  const stream = new EventStream(sessionPath(id, 'events?exclude=session.resource'), {
    lastId: 0,
    onEvent: addEvent,
    onState: (s) => {
      if (s === 'live') setText(eventsNote, 'No events yet.');
      if (s === 'gone') scheduleRefresh();
    },
  });
  stream.start();
  const tick = setInterval(() => {
    const session = store.sessions.get(id);
    if (session) setText(info.rows.uptime, duration(uptimeOf(session)));
    queue.tick();
  }, 1000);
  return () => {
    qr.close();
    trends.stop();
    queue.stop();
    stream.stop();
    offChange();
    offEvent();
    clearInterval(tick);
  };
}
