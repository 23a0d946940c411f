// Shared pieces of the views: notices, the modal dialog, the action buttons of a session.

import {ApiError, del, post, put, sessionPath} from './api.js';
import {h} from './dom.js';
import {clock, describe} from './format.js';
import {onEvent, rolesOf, scheduleRefresh, store} from './store.js';

/**
 * A short notice at the bottom of the screen (errors stay until dismissed). A notice about
 * `session` ("Starting …") also goes as soon as that session settles in a state the page shows
 * (a QR code, WORKING, STOPPED, FAILED): it would only cover the page from then on.
 */
export function notify(text, {error = false, session = null} = {}) {
  const box = document.getElementById('toasts');
  const close = h('button.quiet', {type: 'button', 'aria-label': 'Dismiss'}, '×');
  const toast = h(`div.toast${error ? '.toast-error' : ''}`, {role: error ? 'alert' : 'status',
    dataset: session && !error ? {session} : {}}, h('span', {}, text), close);
  close.addEventListener('click', () => toast.remove());
  box.append(toast);
  if (!error) setTimeout(() => toast.remove(), 6000);
  while (box.children.length > 4) box.firstElementChild.remove();
}

/** Remove the notices about `session` (not the errors). */
export function dismissToasts(session) {
  for (const toast of document.querySelectorAll('#toasts .toast[data-session]')) {
    if (toast.dataset.session === session) toast.remove();
  }
}

const SETTLED = new Set(['SCAN_QR_CODE', 'WORKING', 'STOPPED', 'FAILED']);
onEvent((event) => {
  if (event.event === 'session.status' && SETTLED.has(event.payload?.state)) dismissToasts(event.session);
});

/** Report a failed call (a 401 is handled by the login form). */
export function report(err, what) {
  if (err instanceof ApiError && err.status === 401) return;
  notify(`${what}: ${err.message}`, {error: true});
}

/**
 * A modal dialog (keyboard: Tab stays inside, Escape cancels, focus returns where it was).
 * `body` is a node (its inputs are read into the result); resolves to {ok, values}.
 */
export function dialog({title, text, body = null, ok = 'OK', danger = false}) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const heading = h('h2', {id: 'dialog-title'}, title);
    const cancelButton = h('button', {type: 'button', value: 'cancel'}, 'Cancel');
    const okButton = h(`button${danger ? '.danger' : '.primary'}`, {type: 'submit'}, ok);
    const form = h('form.dialog-form', {},
      heading, text ? h('p', {id: 'dialog-text'}, text) : null, body,
      h('div.buttons', {}, cancelButton, okButton));
    const box = h('dialog.dialog', {'aria-labelledby': 'dialog-title',
      'aria-describedby': text ? 'dialog-text' : undefined}, form);
    let result = {ok: false, values: {}};
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      result = {ok: true, values: Object.fromEntries(new FormData(form))};
      box.close();
    });
    cancelButton.addEventListener('click', () => box.close());
    box.addEventListener('close', () => {
      box.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(result);
    });
    document.body.append(box);
    box.showModal();
    (body?.querySelector('input, select, textarea') ?? cancelButton).focus();
  });
}

const RUNNING = new Set(['STARTING', 'SCAN_QR_CODE', 'WORKING']);

// Each action: when it applies, how to ask, what to call, what to say.
const ACTIONS = [
  {name: 'start', label: 'Start', doing: 'Starting', icon: '▶', when: (s) => s.state === 'STOPPED' || s.state === 'FAILED'},
  {name: 'stop', label: 'Stop', doing: 'Stopped', icon: '■', when: (s) => RUNNING.has(s.state)},
  {name: 'restart', label: 'Restart', doing: 'Restarting', icon: '↻', when: (s) => s.state !== 'STOPPING'},
  {
    name: 'logout', label: 'Log out', doing: 'Logging out', icon: '⏏', when: (s) => s.state === 'WORKING',
    confirm: (s) => ({
      title: `Log out ${s.id}?`, ok: 'Log out', danger: true,
      text: `WhatsApp ${s.phone_number ? `+${s.phone_number} ` : ''}is unlinked from this session; ` +
        'linking it again needs a new QR scan on the phone.',
    }),
  },
  {name: 'role', label: 'Role…', icon: '⚑', when: () => true},
  {
    name: 'delete', label: 'Delete', icon: '⌫', when: (s) => s.state !== 'STOPPING',
    confirm: (s) => ({
      title: `Delete ${s.id}?`, ok: 'Delete', danger: true,
      text: 'The session is stopped, and its Chrome profile (the WhatsApp login) and record are ' +
        'deleted. This cannot be undone.',
    }),
  },
];

/** Ask for a role and add the session to it (PUT /api/roles/{role}). */
export async function assignRole(session) {
  const known = store.roles.map((r) => r.role);
  const options = h('datalist', {id: 'role-options'}, known.map((r) => h('option', {value: r})));
  const current = rolesOf(session.id);
  const body = h('div.field', {},
    h('label', {for: 'role-name'}, 'Role'),
    h('input', {id: 'role-name', name: 'role', required: true, list: 'role-options',
      pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]{0,63}', autocomplete: 'off', spellcheck: false,
      title: 'Letters, digits, "_" or "-" (up to 64), e.g. sales'}),
    options,
    h('p.hint', {}, current.length ? `Already in: ${current.join(', ')}.` : 'Not in any role yet.',
      ' Sending by role goes round-robin over its WORKING sessions.'));
  const {ok, values} = await dialog({title: `Assign ${session.id} to a role`, body, ok: 'Assign'});
  if (!ok) return;
  const role = values.role.trim();
  if (membersOf(role).includes(session.id)) {
    notify(`${session.id} is already in role ${role}.`);
    return;
  }
  await setRole(role, [...membersOf(role), session.id],
    `${session.id} assigned to role ${role}.`, `Assigning ${session.id} to ${role}`);
}

/** Take `session` out of `role`. */
export function leaveRole(session, role) {
  return setRole(role, membersOf(role).filter((s) => s !== session.id),
    `${session.id} removed from role ${role}.`, `Removing ${session.id} from ${role}`);
}

function membersOf(role) {
  return store.roles.find((r) => r.role === role)?.sessions ?? [];
}

/** PUT the sessions of a role; `done` is said after, `failing` names what failed. */
async function setRole(role, sessions, done, failing) {
  try {
    await put(`/api/roles/${encodeURIComponent(role)}`, {sessions});
    notify(done);
    scheduleRefresh();
  } catch (err) {
    report(err, failing);
  }
}

/** A line of an event list: time, session (when `withSession`), name, what it says. */
export function eventItem(event, withSession) {
  const where = event.session
    ? h('a', {href: `/sessions/${encodeURIComponent(event.session)}`, dataset: {nav: ''}}, event.session)
    : h('span', {}, 'daemon');
  return h('li', {dataset: {event: event.event}},
    h('time', {dateTime: new Date(event.timestamp * 1000).toISOString()}, clock(event.timestamp)),
    withSession ? [' ', where] : null,
    ' ', h('span.event-name', {}, event.event), ' ', h('span', {}, describe(event)));
}

async function run(action, session, afterDelete) {
  if (action.name === 'role') return assignRole(session);
  if (action.confirm && !(await dialog(action.confirm(session))).ok) return;
  try {
    if (action.name === 'delete') {
      await del(sessionPath(session.id));
      notify(`Session ${session.id} deleted.`);
      afterDelete?.();
    } else {
      await post(sessionPath(session.id, action.name));
      notify(`${action.doing} ${session.id}.`, {session: session.id});
    }
  } catch (err) {
    report(err, `${action.label} ${session.id}`);
  }
  scheduleRefresh();
}

/**
 * The action buttons of a session, kept in place (so keyboard focus survives updates):
 * returns {el, update(session)}; buttons that do not apply to the state are disabled.
 */
export function actionBar(session, {afterDelete, compact = false} = {}) {
  let current = session;
  const buttons = ACTIONS.map((action) => {
    const button = h(`button.action.action-${action.name}`, {
      type: 'button', dataset: {action: action.name},
      'aria-label': compact ? `${action.label.replace('…', '')} ${session.id}` : undefined,
    }, h('span.action-icon', {'aria-hidden': 'true'}, action.icon), ` ${action.label}`);
    button.addEventListener('click', () => run(action, current, afterDelete));
    return [action, button];
  });
  const el = h('div.actions', {role: 'group', 'aria-label': `Actions for ${session.id}`},
    buttons.map(([, b]) => b));
  const update = (s) => {
    current = s;
    for (const [action, button] of buttons) button.disabled = !action.when(s);
  };
  update(session);
  return {el, update};
}
