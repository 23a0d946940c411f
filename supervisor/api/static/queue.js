// A session's send queue, on its page: each send still to go (waiting or sending) with its
// recipient, kind, status, age and the limit holding it back, and a Cancel button on each one
// not yet begun (DELETE /api/sessions/{id}/queue/{queue_id}; the API says 409 once it has).
// The list (GET /api/sessions/{id}/queue) is loaded when the page opens, after each of this
// session's queue events, and each time the page's figures are reloaded: a limit that starts or
// stops holding a send has no event of its own. Rows are updated in place, so focus survives.

import {del, get, sessionPath} from './api.js';
import {h, setText} from './dom.js';
import {duration} from './format.js';
import {QUEUE_EVENTS, onChange, onEvent, store} from './store.js';
import {notify, report} from './ui.js';

const SHOWN = 50; // the oldest this many are listed, the others counted
const COLUMNS = ['Send', 'To', 'Kind', 'Message', 'Status', 'Age', 'Held by', 'Actions'];
const STATUSES = {queued: {label: 'Waiting', icon: '◔'}, sending: {label: 'Sending', icon: '▸'}};
const KINDS = {text: 'Text', image: 'Image', video: 'Video', audio: 'Audio', ptt: 'Voice note',
  document: 'Document', sticker: 'Sticker'};
// supervisor/settings/sending.py LIMIT_NAMES, in words.
const LIMITS = {
  per_minute: 'Messages per minute', per_hour: 'Messages per hour', per_day: 'Messages per day',
  warmup: 'Warm-up daily cap', per_recipient_hour: 'Messages to this chat per hour',
  new_contacts_day: 'New contacts per day',
};
const PREVIEW = 60;

/** A chat id as people read it: +number for a person, the id itself otherwise (a group). */
function recipient(chat) {
  const person = /^(\d+)@(?:c\.us|s\.whatsapp\.net)$/.exec(chat);
  return person ? `+${person[1]}` : chat;
}

/** The start of a send's text, caption or file name. */
function preview(entry) {
  const text = entry.text ?? entry.caption ?? entry.filename ?? '';
  return text.length > PREVIEW ? `${text.slice(0, PREVIEW - 1)}…` : text;
}

/** The limit holding a send, with how much of it is used when the listing says. */
function holdOf(name, policy) {
  if (!name) return '—';
  const words = LIMITS[name] ?? name;
  const window = policy?.limits?.[name];
  if (window?.limit) return `${words} (${window.used} of ${window.limit})`;
  if (name === 'warmup' && policy?.warmup_cap) return `${words} (${policy.warmup_cap}, day ${policy.warmup_day ?? 0})`;
  return words;
}

/** The queue's card for session `id`: {el, tick() (ages count on), stop()}. */
export function queuePanel(id) {
  const heading = h('h2', {id: 'h-queue', tabIndex: -1}, 'Send queue');
  const body = h('tbody');
  const table = h('table.list.queue', {id: 'session-queue', hidden: true},
    h('caption.visually-hidden', {}, `Sends of ${id} still to go`),
    h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', {scope: 'col'}, c)))), body);
  const empty = h('p.empty', {id: 'queue-empty'}, 'Loading the queue…');
  const more = h('p.hint', {id: 'queue-more', hidden: true});
  const error = h('p.error', {role: 'alert'});
  const el = h('section.card.wide', {'aria-labelledby': 'h-queue'},
    heading, error, h('div.queue-wrap', {}, table), empty, more);

  const rows = new Map(); // queue_id -> row
  let base = {now: 0, at: 0}; // the daemon's clock at the last load, and performance.now() then
  let stopped = false;
  const ageOf = (entry) => base.now - entry.created_at + (performance.now() - base.at) / 1000;

  const cancel = async (row) => {
    const {entry} = row;
    row.cancelling = true;
    row.button.disabled = true;
    try {
      await del(sessionPath(id, `queue/${entry.queue_id}`));
      notify(`Send #${entry.queue_id} to ${recipient(entry.to)} cancelled.`);
    } catch (err) {
      report(err, `Cancelling send #${entry.queue_id}`);
    }
    row.cancelling = false;
    load();
  };

  const makeRow = (entry) => {
    const cells = {};
    const cell = (name, label) => {
      cells[name] = h('td', {dataset: {label}});
      return cells[name];
    };
    const button = h('button.small.action-cancel', {type: 'button', dataset: {action: 'cancel'}}, 'Cancel');
    const row = {entry, button, cancelling: false, cells};
    button.addEventListener('click', () => cancel(row));
    row.tr = h('tr', {dataset: {queueId: String(entry.queue_id)}},
      h('th', {scope: 'row', dataset: {label: 'Send'}}, `#${entry.queue_id}`),
      cell('to', 'To'), cell('kind', 'Kind'), cell('message', 'Message'), cell('status', 'Status'),
      cell('age', 'Age'), cell('held', 'Held by'), h('td', {dataset: {label: 'Actions'}}, button));
    return row;
  };

  const update = (row, entry, policy) => {
    row.entry = entry;
    const {cells} = row;
    const status = STATUSES[entry.status] ?? {label: entry.status, icon: '?'};
    row.tr.dataset.status = entry.status;
    setText(cells.to, recipient(entry.to));
    setText(cells.kind, KINDS[entry.kind] ?? entry.kind);
    setText(cells.message, preview(entry));
    setText(cells.status, `${status.icon} ${status.label}`);
    setText(cells.age, duration(ageOf(entry)));
    setText(cells.held, holdOf(entry.held_by, policy));
    cells.held.dataset.limit = entry.held_by ?? '';
    row.button.disabled = entry.status !== 'queued' || row.cancelling;
    row.button.setAttribute('aria-label', `Cancel send #${entry.queue_id} to ${recipient(entry.to)}`);
  };

  const render = (data) => {
    base = {now: data.now, at: performance.now()};
    const wanted = new Set(data.entries.map((e) => e.queue_id));
    for (const [queueId, row] of rows) {
      if (wanted.has(queueId)) continue;
      const hadFocus = row.tr.contains(document.activeElement);
      row.tr.remove();
      rows.delete(queueId);
      if (hadFocus) heading.focus(); // the row went with the button: keep the keyboard here
    }
    data.entries.forEach((entry, index) => {
      let row = rows.get(entry.queue_id);
      if (!row) {
        row = makeRow(entry);
        rows.set(entry.queue_id, row);
      }
      update(row, entry, data.policy);
      if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] ?? null);
    });
    table.hidden = !data.entries.length;
    empty.hidden = data.entries.length > 0;
    setText(empty, 'Nothing waiting to be sent.');
    const rest = data.depth - data.entries.length;
    more.hidden = rest <= 0;
    setText(more, rest > 0 ? `… and ${rest} more (the oldest ${SHOWN} are listed).` : '');
  };

  // One load at a time; a reason to load during one loads once more after it.
  let inflight = false;
  let again = false;
  async function load() {
    if (stopped) return;
    if (inflight) {
      again = true;
      return;
    }
    inflight = true;
    try {
      const data = await get(sessionPath(id, `queue?limit=${SHOWN}`));
      if (!stopped) {
        setText(error, '');
        render(data);
      }
    } catch (err) {
      // A deleted session: its page says so. A 401: the login form takes over.
      if (!stopped && err.status !== 404 && err.status !== 401) setText(error, `Could not load the queue: ${err.message}`);
    } finally {
      inflight = false;
      if (again) {
        again = false;
        load();
      }
    }
  }

  let seenLoad = store.loadedAt;
  const offChange = onChange(() => {
    if (store.loadedAt === seenLoad) return;
    seenLoad = store.loadedAt;
    load();
  });
  const offEvent = onEvent((event) => {
    if (event.session === id && QUEUE_EVENTS.has(event.event)) load();
  });
  load();
  return {
    el,
    tick: () => {
      for (const row of rows.values()) setText(row.cells.age, duration(ageOf(row.entry)));
    },
    stop: () => {
      stopped = true;
      offChange();
      offEvent();
    },
  };
}
