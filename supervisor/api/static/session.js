// One session: its QR code (large, following each new one) or the phone number it is linked
// to, its figures and roles, the actions, a form to send a test message, and its recent events.

import {ApiError, blob, get, post, sessionPath, upload} from './api.js';
import {fill, h, setText} from './dom.js';
import {bytes, clock, duration, percent, phone, showState} from './format.js';
import {QUIET_EVENTS, onChange, onEvent, rolesOf, scheduleRefresh, store, uptimeOf} from './store.js';
import {EventStream} from './stream.js';
import {actionBar, assignRole, eventItem, leaveRole, report} from './ui.js';

const MAX_EVENTS = 60;

const WAITING = {
  STARTING: 'Starting Chrome and WhatsApp Web… the QR code appears here.',
  SCAN_QR_CODE: 'Waiting for the QR code…',
  STOPPING: 'Stopping…',
  STOPPED: 'Stopped. Start the session to link a phone.',
  FAILED: 'Failed. Start it again once the cause (below) is fixed.',
};

function details() {
  const rows = {};
  const row = (key, label) => {
    rows[key] = h('dd', {id: `detail-${key}`});
    return [h('dt', {}, label), rows[key]];
  };
  const el = h('dl.details', {},
    row('since', 'In this state since'), row('phone', 'Phone number'), row('memory', 'Memory'),
    row('cpu', 'CPU'), row('processes', 'Processes'), row('uptime', 'Uptime'),
    row('restarts', 'Restarts'), row('exit', 'Last exit'), row('error', 'Last error'),
    row('pids', 'Worker / Chrome pid'), row('created', 'Created'));
  return {el, rows};
}

function sendForm(id) {
  const to = h('input', {id: 'send-to', name: 'to', required: true, inputMode: 'tel',
    autocomplete: 'off', placeholder: '+244 929 782 402', 'aria-describedby': 'send-to-hint'});
  const text = h('textarea', {id: 'send-text', name: 'text', rows: 3},
    'Test message from zapvisor');
  const file = h('input', {id: 'send-file', name: 'file', type: 'file', 'aria-describedby': 'send-file-hint'});
  const result = h('p.result', {id: 'send-result', role: 'status'});
  const button = h('button.primary', {type: 'submit'}, 'Send');
  const fieldset = h('fieldset', {},
    h('legend', {}, 'Send a test message'),
    h('div.field', {}, h('label', {for: 'send-to'}, 'To'), to,
      h('p.hint', {id: 'send-to-hint'}, 'A phone number with its country code, or a chat id (…@c.us, …@g.us).')),
    h('div.field', {}, h('label', {for: 'send-text'}, 'Text'), text),
    h('div.field', {}, h('label', {for: 'send-file'}, 'File'), file,
      h('p.hint', {id: 'send-file-hint'}, 'Optional: an image, video, audio, document or sticker; the text becomes its caption.')),
    button);
  const form = h('form.send', {}, fieldset, result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    setText(result, 'Sending…');
    try {
      let sent;
      if (file.files.length) {
        const form = new FormData();
        form.append('to', to.value.trim());
        if (text.value.trim()) form.append('caption', text.value);
        form.append('file', file.files[0]);
        sent = await upload(sessionPath(id, 'media'), form);
      } else {
        sent = await post(sessionPath(id, 'messages'), {to: to.value.trim(), text: text.value});
      }
      if (sent.status === 'sent') {
        setText(result, `✔ Sent to ${sent.to} at ${clock(sent.timestamp)} (id ${sent.id}).`);
        result.dataset.messageId = sent.id;
      } else {  // 202: pacing or a limit holds it; it goes on by itself
        const held = sent.held_by ? `, held by the ${sent.held_by} limit` : '';
        setText(result, `⏳ Queued as #${sent.queue_id} (${sent.status}${held}); it will be sent by itself.`);
      }
    } catch (err) {
      setText(result, err.status === 401 ? '' : `✖ Not sent: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  });
  return {form, fieldset};
}

/** An incoming media message's event item, with a link that downloads its file (fetched with
 * the key in a header, then handed to the browser as a blob). */
function withMedia(id, item, event) {
  const p = event.payload || {};
  if (event.event !== 'message' || !p.has_media || !p.id) return item;
  const name = p.filename || `${p.type ?? 'media'}.${(p.mimetype || 'application/bin').split('/')[1].split(';')[0]}`;
  const link = h('a.media-link', {href: '#', download: name, dataset: {media: p.id}}, `⬇ ${name}`);
  link.addEventListener('click', async (ev) => {
    if (link.dataset.ready) return;
    ev.preventDefault();
    try {
      link.href = URL.createObjectURL(await blob(sessionPath(id, `messages/${encodeURIComponent(p.id)}/media`)));
      link.dataset.ready = '1';
      link.click();
    } catch (err) {
      link.replaceWith(h('span.error', {}, `✖ ${err.message}`));
    }
  });
  item.append(' ', link);
  return item;
}

export function sessionView(main, {params, navigate}) {
  const id = decodeURIComponent(params[0]);
  const state = h('span', {id: 'session-state'});
  const title = h('h1', {tabIndex: -1}, h('span.session-id', {}, id), ' ', state);
  const actions = actionBar({id, state: 'STOPPED'}, {afterDelete: () => navigate('/sessions')});

  const img = h('img.qr', {id: 'qr', alt: `QR code to link WhatsApp to session ${id}`});
  const qrFigure = h('figure.qr-figure', {id: 'qr-figure', hidden: true}, img,
    h('figcaption', {},
      h('strong', {}, 'Scan with WhatsApp on the phone: '),
      'Settings → Linked devices → Link a device. ',
      'The code changes every few seconds; this page follows it.'));
  const linked = h('div.linked', {id: 'linked', hidden: true},
    h('span.linked-icon', {'aria-hidden': 'true'}, '✔'),
    h('p', {}, 'Linked to WhatsApp as'),
    h('p.linked-phone', {id: 'linked-phone'}));
  const waiting = h('p.waiting', {id: 'login-waiting'});
  const loginPanel = h('section.card.login-panel', {'aria-labelledby': 'h-login', 'aria-live': 'polite'},
    h('h2', {id: 'h-login'}, 'WhatsApp'), qrFigure, linked, waiting);

  const info = details();
  const roles = h('ul.roles', {id: 'session-roles'});
  const assign = h('button', {type: 'button', id: 'assign-role'}, '⚑ Assign to a role');
  const send = sendForm(id);
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
        h('h2', {id: 'h-events'}, 'Recent events'), eventsNote, events)),
  );
  document.title = `${id} · zapvisor`;

  let closed = false;
  let qrShown = false; // a QR of the current SCAN_QR_CODE period is on screen
  let qrLoading = false;
  let qrAgain = false;
  let qrVersion = 0;

  const hideQr = () => {
    qrShown = false;
    qrFigure.hidden = true;
    img.removeAttribute('src');
    delete qrFigure.dataset.qr;
  };

  // The QR's text and picture, one after the other; a newer QR during the load loads again.
  const loadQr = async () => {
    if (qrLoading) {
      qrAgain = true;
      return;
    }
    qrLoading = true;
    try {
      const raw = await get(sessionPath(id, 'qr?format=raw'));
      const png = await get(sessionPath(id, 'qr?format=json'));
      if (closed || store.sessions.get(id)?.state !== 'SCAN_QR_CODE') return;
      img.src = `data:${png.mimetype};base64,${png.data}`;
      qrVersion += 1;
      Object.assign(qrFigure.dataset, {qr: raw.value, version: String(qrVersion)});
      qrShown = true;
      qrFigure.hidden = false;
      waiting.hidden = true;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) report(err, `QR code of ${id}`);
    } finally {
      qrLoading = false;
      if (qrAgain && !closed) {
        qrAgain = false;
        loadQr();
      }
    }
  };

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
    if (!scanning) hideQr();
    else if (!qrShown) loadQr();
    linked.hidden = !working;
    setText(document.getElementById('linked-phone'), working ? phone(session.phone_number) : '');
    waiting.hidden = working || (scanning && qrShown);
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
        && store.sessions.get(id)?.state === 'SCAN_QR_CODE') loadQr();
  });
  // This session's own stream, from the start of the daemon's history: its recent events.
  const stream = new EventStream(sessionPath(id, 'events'), {
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
  }, 1000);
  return () => {
    closed = true;
    stream.stop();
    offChange();
    offEvent();
    clearInterval(tick);
  };
}
