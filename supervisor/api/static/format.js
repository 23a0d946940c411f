// How values are shown: states (icon + words, never colour alone), sizes, durations, times.

export const STATES = {
  STOPPED: {label: 'Stopped', icon: '■'},
  STARTING: {label: 'Starting', icon: '◔'},
  SCAN_QR_CODE: {label: 'Scan QR code', icon: '▦'},
  WORKING: {label: 'Working', icon: '✔'},
  STOPPING: {label: 'Stopping', icon: '◕'},
  FAILED: {label: 'Failed', icon: '✖'},
};
export const STATE_ORDER = Object.keys(STATES);

/** Put a state badge's icon and words into `el` (a span.state). */
export function showState(el, state) {
  const known = STATES[state] || {label: state || 'Unknown', icon: '?'};
  el.className = `state state-${String(state || 'unknown').toLowerCase().replaceAll('_', '-')}`;
  el.dataset.state = state || '';
  if (el.dataset.shown === state) return el;
  el.dataset.shown = state || '';
  el.replaceChildren();
  const icon = document.createElement('span');
  icon.className = 'state-icon';
  icon.setAttribute('aria-hidden', 'true');
  icon.textContent = known.icon;
  el.append(icon, ' ', known.label);
  return el;
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export function percent(value) {
  return value === null || value === undefined ? '—' : `${Number(value).toFixed(1)} %`;
}

export function phone(number) {
  return number ? `+${number}` : '—';
}

export function clock(timestamp) {
  const date = typeof timestamp === 'number' ? new Date(timestamp * 1000) : new Date(timestamp);
  return date.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

/** One line about an event, for the activity lists. */
export function describe(event) {
  const p = event.payload || {};
  switch (event.event) {
    case 'session.status': return `${STATES[p.state]?.label ?? p.state}${p.reason ? ` — ${p.reason}` : ''}`;
    case 'session.qr': return `new QR code${p.attempt ? ` (#${p.attempt})` : ''}`;
    case 'session.logout': return `logged out (${p.origin ?? 'unknown'})`;
    case 'session.created': return 'created';
    case 'session.deleted': return 'deleted';
    case 'session.restart': return `restart: ${p.reason ?? p.kind ?? ''}`;
    case 'session.recycled': return `recycled: ${p.reason ?? ''}`;
    case 'session.updated': return `changed ${(p.changed || []).join(', ')}${p.proxy !== undefined ? ` (proxy: ${p.proxy ?? 'none'})` : ''}`;
    case 'message': return `${p.from_me || p.fromMe ? 'sent' : 'from'} ${p.from_me || p.fromMe ? p.to ?? '' : p.from ?? ''}: ${p.has_media ? `[${p.type}] ${p.caption ?? ''}` : p.body ?? `[${p.type ?? 'message'}]`}`;
    case 'message.sent': return `sent to ${p.to ?? ''}: ${p.type && p.type !== 'chat' ? `[${p.type}] ` : ''}${p.body ?? ''}`;
    case 'message.reaction': return `${p.sender_id ?? ''} reacted ${p.emoji || '(removed)'} to ${p.message_id ?? ''}`;
    case 'message.revoked': return `message ${p.id ?? ''} deleted for everyone`;
    case 'message.edited': return `message ${p.id ?? ''} edited: ${p.body ?? ''}`;
    case 'group.join': return `${(p.participants || []).join(', ')} joined ${p.group_id ?? ''}`;
    case 'group.leave': return `${(p.participants || []).join(', ')} left ${p.group_id ?? ''}`;
    case 'message.ack': return `message ${p.id ?? ''} ack ${p.ack}`;
    case 'exiting': return `worker exiting: ${p.reason ?? `code ${p.code}`}`;
    case 'chrome_exited': return `Chrome exited (${p.returncode})`;
    case 'role.updated': return `role ${p.role}: ${(p.sessions || []).join(', ') || 'removed'}`;
    default: return Object.keys(p).length ? JSON.stringify(p).slice(0, 160) : '';
  }
}
