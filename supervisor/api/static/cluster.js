// Cluster (a node of a cluster only): every node with its lease, load and state, the one that
// answered marked "this node", a drain or undrain button per live node and a forget button per
// node whose lease is gone (each after a confirmation), and
// where each session runs with its fencing token. Rows are kept and updated in place, so
// keyboard focus survives the reloads.

import {del, post} from './api.js';
import {h, setText} from './dom.js';
import {bytes} from './format.js';
import {leaseAgeOf, onChange, scheduleRefresh, store, watchCluster} from './store.js';
import {dialog, notify, report} from './ui.js';

const NODE_COLUMNS = ['Node', 'Address', 'Status', 'Lease renewed', 'Sessions', 'Memory', 'Actions'];
const PLACEMENT_COLUMNS = ['Session', 'Node', 'Fencing token', 'Wanted'];
// More rows than anyone reads in a page; the CLI lists them all (`zapvisor cluster status`).
const MAX_PLACEMENT_ROWS = 500;
const STATUS = {
  up: {label: 'Up', icon: '✔'},
  draining: {label: 'Draining', icon: '⇥'},
  down: {label: 'Down', icon: '✖'},
};

const nodePath = (node, action = '') => `/api/cluster/nodes/${encodeURIComponent(node)}${action && `/${action}`}`;

/** Up, draining or down (its lease expired): a word and an icon, the colour on top. */
function nodeStatus(node) {
  if (!node.alive) return 'down';
  return node.draining ? 'draining' : 'up';
}

function showStatus(el, status) {
  if (el.dataset.status === status) return;
  el.dataset.status = status;
  el.className = `state node-${status}`;
  el.replaceChildren(h('span.state-icon', {'aria-hidden': 'true'}, STATUS[status].icon), ` ${STATUS[status].label}`);
}

/** Ask, then drain (or undrain) `node`; the answer says which sessions moved. */
async function setDraining(node, draining, button) {
  const name = node.node;
  const {ok} = await dialog(draining ? {
    title: `Drain ${name}?`, ok: 'Drain', danger: true,
    text: `Every session running on ${name} is stopped in order, its login saved as a snapshot, ` +
      `and started on the other nodes, without a new QR code. ${name} takes no new session ` +
      'until it is undrained.',
  } : {
    title: `Undrain ${name}?`, ok: 'Undrain',
    text: `${name} takes new sessions again. The sessions that moved off it stay where they are.`,
  });
  if (!ok) return;
  button.disabled = true;
  button.dataset.busy = '1';
  if (draining) notify(`Draining ${name}: its sessions stop and move…`);
  try {
    const answer = await post(nodePath(name, draining ? 'drain' : 'undrain'));
    const moved = answer.moved?.length ?? 0;
    notify(draining ? `${name} drained: ${moved} session${moved === 1 ? '' : 's'} moved to the other nodes.`
      : `${name} takes sessions again.`);
  } catch (err) {
    report(err, `${draining ? 'Draining' : 'Undraining'} ${name}`);
  } finally {
    delete button.dataset.busy;
    scheduleRefresh();
  }
}

/** Ask, then take a node whose lease is gone off the list (refused while it owns sessions). */
async function forgetNode(node, button) {
  const name = node.node;
  const {ok} = await dialog({
    title: `Forget ${name}?`, ok: 'Forget', danger: true,
    text: `${name} is taken off the node list. Do it once its host is retired: the other nodes ` +
      'take over its sessions one lease after it stopped, and until then it cannot be forgotten.',
  });
  if (!ok) return;
  button.disabled = true;
  button.dataset.busy = '1';
  try {
    await del(nodePath(name));
    notify(`${name} forgotten.`);
  } catch (err) {
    report(err, `Forgetting ${name}`);
  } finally {
    delete button.dataset.busy;
    scheduleRefresh();
  }
}

function nodeRow(node) {
  const cells = {};
  const cell = (name, label) => {
    cells[name] = h('td', {dataset: {label}});
    return cells[name];
  };
  const id = h('span');
  const self = h('span.this-node', {hidden: true}, 'this node');
  const status = h('span');
  const button = h('button.action', {type: 'button', dataset: {action: 'drain'}});
  let current = node;
  button.addEventListener('click', () => (current.alive ? setDraining(current, !current.draining, button)
    : forgetNode(current, button)));
  const tr = h('tr', {dataset: {node: node.node}},
    h('th', {scope: 'row', dataset: {label: 'Node'}}, id, ' ', self),
    cell('url', 'Address'), h('td', {dataset: {label: 'Status'}}, status), cell('lease', 'Lease renewed'),
    cell('sessions', 'Sessions'), cell('memory', 'Memory'), h('td', {dataset: {label: 'Actions'}}, button));
  const tick = (n) => {
    const age = leaseAgeOf(n);
    setText(cells.lease, age === null ? 'expired' : `${age.toFixed(1)} s ago`);
  };
  const update = (n) => {
    current = n;
    setText(id, n.node);
    self.hidden = !n.self;
    setText(cells.url, n.url || '—');
    showStatus(status, nodeStatus(n));
    tick(n);
    setText(cells.sessions, `${n.sessions} / ${n.max_sessions}`);
    setText(cells.memory, n.memory_mb === null ? '—' : bytes(n.memory_mb * 1024 * 1024));
    // A node whose lease is gone answers nothing (its sessions move by themselves): forget it.
    const label = !n.alive ? 'Forget' : n.draining ? 'Undrain' : 'Drain';
    setText(button, label);
    button.dataset.action = label.toLowerCase();
    button.setAttribute('aria-label', `${label} ${n.node}`);
    if (!button.dataset.busy) button.disabled = false;
  };
  update(node);
  return {tr, update, tick};
}

function placementRow(placed) {
  const link = h('a', {href: `/sessions/${encodeURIComponent(placed.session)}`, dataset: {nav: ''}}, placed.session);
  const node = h('td', {dataset: {label: 'Node'}});
  const token = h('td', {dataset: {label: 'Fencing token'}});
  const wanted = h('td', {dataset: {label: 'Wanted'}});
  const tr = h('tr', {dataset: {session: placed.session}},
    h('th', {scope: 'row', dataset: {label: 'Session'}}, link), node, token, wanted);
  const update = (p) => {
    const moving = !p.alive && p.desired === 'running';
    setText(node, p.node ? `${p.node}${p.alive ? '' : ' (down)'}` : '—');
    setText(token, p.token);
    setText(wanted, moving ? 'running (moving to another node)' : p.desired || '—');
  };
  update(placed);
  return {tr, update};
}

/** Keep `tbody`'s rows in the order of `items`, made by `make` once per key, updated after. */
function syncRows(tbody, rows, items, key, make) {
  const keys = new Set(items.map(key));
  for (const [k, row] of rows) {
    if (!keys.has(k)) {
      row.tr.remove();
      rows.delete(k);
    }
  }
  items.forEach((item, index) => {
    let row = rows.get(key(item));
    if (!row) rows.set(key(item), (row = make(item)));
    else row.update(item);
    if (tbody.children[index] !== row.tr) tbody.insertBefore(row.tr, tbody.children[index] ?? null);
  });
}

function table(id, caption, columns) {
  const tbody = h('tbody');
  const el = h('table.list', {id}, h('caption.visually-hidden', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, c)))), tbody);
  return {el, tbody};
}

export function clusterView(main) {
  const summary = h('p.line.cluster-summary', {id: 'cluster-summary'});
  const error = h('p.error', {role: 'alert'});
  const alone = h('p.empty', {hidden: true},
    'This daemon runs alone. Set [cluster] redis_url (and advertise_url) in its config to make it a node of a cluster.');
  const nodes = table('cluster-nodes', 'Nodes', NODE_COLUMNS);
  const placement = table('cluster-sessions', 'Where each session runs', PLACEMENT_COLUMNS);
  const more = h('p.hint', {id: 'cluster-more'});
  const parts = h('div.cluster', {},
    h('section', {'aria-labelledby': 'h-nodes'}, h('h2', {id: 'h-nodes'}, 'Nodes'), h('div.table-wrap', {}, nodes.el)),
    h('section', {'aria-labelledby': 'h-placement'}, h('h2', {id: 'h-placement'}, 'Where each session runs'),
      h('div.table-wrap', {}, placement.el), more));
  main.replaceChildren(h('h1', {tabIndex: -1}, 'Cluster'), summary, error, alone, parts);
  document.title = 'Cluster · zapvisor';

  const nodeRows = new Map();
  const placedRows = new Map();
  const render = () => {
    const c = store.cluster;
    const failed = store.clusterError ?? (store.error?.status !== 401 ? store.error : null);
    setText(error, failed ? `Could not load: ${failed.message}` : '');
    alone.hidden = store.clustered !== false;
    parts.hidden = !c;
    if (!c) return;
    const up = c.nodes.filter((n) => n.alive).length;
    setText(summary, `${c.nodes.length} node${c.nodes.length === 1 ? '' : 's'} (${up} up), ` +
      `${c.sessions.length} session${c.sessions.length === 1 ? '' : 's'}; a node whose lease is ` +
      `${c.lease_s} s old is down and its sessions move; snapshots: ${c.snapshots || 'none'}; ` +
      `this page is served by ${c.node}.`);
    syncRows(nodes.tbody, nodeRows, c.nodes, (n) => n.node, nodeRow);
    const shown = c.sessions.slice(0, MAX_PLACEMENT_ROWS);
    syncRows(placement.tbody, placedRows, shown, (p) => p.session, placementRow);
    setText(more, c.sessions.length > shown.length
      ? `Showing ${shown.length} of ${c.sessions.length} sessions; \`zapvisor cluster status\` lists them all.` : '');
    placement.el.hidden = shown.length === 0;
  };
  render();
  const off = onChange(render);
  watchCluster(true);
  const tick = setInterval(() => {
    for (const node of store.cluster?.nodes ?? []) nodeRows.get(node.node)?.tick(node);
  }, 1000);
  return () => {
    off();
    watchCluster(false);
    clearInterval(tick);
  };
}
