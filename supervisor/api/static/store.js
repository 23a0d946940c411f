// What the views show: sessions, totals and roles, loaded from the API and kept current by the
// event stream. Events update what they can in place at once; anything else is reloaded, at
// most once per REFRESH_GAP_MS however many events arrive (no polling). The cluster (nodes,
// leases, placement) is asked for once (a single host says 409), then only while the Cluster
// view is shown: with it, once per CLUSTER_REFRESH_MS while the tab is visible.

import {get} from './api.js';

const REFRESH_DELAY_MS = 250;
const REFRESH_GAP_MS = 2000;
const CLUSTER_REFRESH_MS = 10000;
// Events after which the figures on screen are stale.
const RELOAD_ON = /^(session\.|message|role\.updated|state$|orphans\.)/;

export const store = {
  sessions: new Map(), // id -> session info (GET /api/sessions)
  stats: null, // GET /api/stats
  roles: [], // [{role, sessions, working}]
  loadedAt: 0, // performance.now() of the last load (uptimes count from there)
  error: null, // the last load's error, if it failed
  recent: [], // the latest events (from the daemon's history, then live), newest first (no figures)
  clustered: null, // null: not known yet; false: a single host (GET /api/cluster: 409); true: a node
  cluster: null, // GET /api/cluster (a node of a cluster only)
  clusterLoadedAt: 0, // performance.now() of its last load (lease ages count on from there)
  clusterError: null, // the last cluster load's error (its Redis unreachable: 503), if it failed
};

const RECENT = 50;
/** Events that only carry figures: they update what is shown, they are not news. */
export const QUIET_EVENTS = new Set(['session.resource', 'state']);

const listeners = new Set();
const eventListeners = new Set();

/** Call `fn()` after every change; returns the unsubscribe function. */
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Call `fn(event)` for every live event; returns the unsubscribe function. */
export function onEvent(fn) {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}

function changed() {
  for (const fn of listeners) fn();
}

let recentLoaded = false;

/** An event id as [ms, seq]: an integer on one host, a stream id "<ms>-<seq>" in a cluster. */
function idKey(id) {
  const [ms, seq = '0'] = String(id).split('-');
  return [Number(ms), Number(seq)];
}

/** Put `events` among the recent ones: newest first, each once, at most RECENT. */
function mergeRecent(events) {
  const byId = new Map([...store.recent, ...events].map((e) => [String(e.id), e]));
  const newerFirst = (a, b) => {
    const [x, y] = [idKey(a.id), idKey(b.id)];
    return y[0] - x[0] || y[1] - x[1];
  };
  store.recent = [...byId.values()].sort(newerFirst).slice(0, RECENT);
}

/** The latest events from the daemon's history (they survive a reload, and a restart). */
async function loadRecent() {
  const exclude = [...QUIET_EVENTS].join(',');
  const data = await get(`/api/events?format=json&limit=${RECENT}&exclude=${exclude}`);
  mergeRecent(data.events);
  recentLoaded = true;
}

let clusterTimer = null;
let clusterShown = false;

/** GET /api/cluster: once to learn whether this daemon is a node (a single host answers 409),
 * then while the Cluster view is shown. Never throws: a failed load keeps the last answer,
 * with the error beside it. */
async function loadCluster() {
  if (store.clustered === false || (store.clustered && !clusterShown)) return;
  try {
    store.cluster = await get('/api/cluster');
    store.clusterLoadedAt = performance.now();
    store.clusterError = null;
    store.clustered = true;
  } catch (err) {
    if (err.status === 409) store.clustered = false;
    else store.clusterError = err;
  }
}

/**
 * The Cluster view is shown (or not): load the cluster now and every CLUSTER_REFRESH_MS while
 * the tab is visible (leases age and other nodes change without an event here). Reading every
 * session's owner costs Redis a little per reload: only the view that shows it asks.
 */
export function watchCluster(shown) {
  clusterShown = shown;
  clearInterval(clusterTimer);
  clusterTimer = null;
  if (!shown) return;
  clusterTimer = setInterval(() => {
    if (document.visibilityState === 'visible') scheduleRefresh();
  }, CLUSTER_REFRESH_MS);
  scheduleRefresh();
}

let inflight = null;
let timer = null;
let lastRun = -Infinity;
let again = false;

/** Load everything now (one at a time; a call during a load runs once more after it). */
export async function refresh() {
  if (inflight) {
    again = true;
    return inflight;
  }
  lastRun = performance.now();
  inflight = (async () => {
    try {
      const [list, stats, roles] = await Promise.all([
        get('/api/sessions'), get('/api/stats'), get('/api/roles'), loadCluster(),
      ]);
      store.sessions = new Map(list.sessions.map((s) => [s.id, s]));
      store.stats = stats;
      store.roles = roles.roles;
      store.loadedAt = performance.now();
      store.error = null;
      if (!recentLoaded) await loadRecent();
    } catch (err) {
      store.error = err;
    } finally {
      inflight = null;
    }
    changed();
    if (again) {
      again = false;
      scheduleRefresh();
    }
  })();
  return inflight;
}

/** Reload soon, coalescing bursts of events into one load per REFRESH_GAP_MS. */
export function scheduleRefresh() {
  if (timer !== null) return;
  const wait = Math.max(REFRESH_DELAY_MS, lastRun + REFRESH_GAP_MS - performance.now());
  timer = setTimeout(() => {
    timer = null;
    refresh();
  }, wait);
}

/** Forget everything (sign out). */
export function reset() {
  clearTimeout(timer);
  timer = null;
  store.sessions = new Map();
  store.stats = null;
  store.roles = [];
  store.error = null;
  store.recent = [];
  recentLoaded = false;
  watchCluster(false);
  Object.assign(store, {clustered: null, cluster: null, clusterLoadedAt: 0, clusterError: null});
}

/** Events were missed (a long disconnection): reload everything, the recent events too. */
export function reloadAll() {
  recentLoaded = false;
  return refresh();
}

// A queued send ended (sent, failed, cancelled): one fewer in its session's queue.
const QUEUE_DONE = new Set(['message.sent', 'message.failed', 'message.cancelled']);
/** Events that change a session's send queue. */
export const QUEUE_EVENTS = new Set(['message.queued', ...QUEUE_DONE]);

/** A live event: update in place what it tells, tell the views, reload if need be. */
export function applyEvent(event) {
  const session = event.session ? store.sessions.get(event.session) : undefined;
  const p = event.payload || {};
  if (session && event.event === 'session.status' && p.state) {
    session.state = p.state;
    if (p.state === 'FAILED' && p.reason) session.last_error = p.reason;
  } else if (session && event.event === 'session.resource') {
    session.memory_bytes = p.memory_bytes ?? session.memory_bytes;
    session.processes = p.processes ?? session.processes;
    session.cpu_percent = p.cpu_percent ?? session.cpu_percent;
  } else if (session && event.event === 'message.queued') {
    session.queue_depth = (session.queue_depth || 0) + 1;
  } else if (session && p.queue_id && QUEUE_DONE.has(event.event)) {
    session.queue_depth = Math.max(0, (session.queue_depth || 0) - 1);
  }
  if (!QUIET_EVENTS.has(event.event)) mergeRecent([event]);
  for (const fn of eventListeners) fn(event);
  changed();
  if (RELOAD_ON.test(event.event)) scheduleRefresh();
}

/** The roles `id` belongs to. */
export function rolesOf(id) {
  return store.roles.filter((r) => r.sessions.includes(id)).map((r) => r.role);
}

/** Seconds of uptime of a session now (counted on from its last load, no request). */
export function uptimeOf(session) {
  if (session.uptime_s === null || session.uptime_s === undefined) return null;
  if (session.state !== 'WORKING' && session.state !== 'SCAN_QR_CODE' && session.state !== 'STARTING') {
    return session.uptime_s;
  }
  return session.uptime_s + (performance.now() - store.loadedAt) / 1000;
}

/** Seconds since a node last renewed its lease now (counted on from the last load, no
 * request); null for a node whose lease is gone. */
export function leaseAgeOf(node) {
  if (node.lease_age_s === null || node.lease_age_s === undefined) return null;
  return node.lease_age_s + (performance.now() - store.clusterLoadedAt) / 1000;
}
