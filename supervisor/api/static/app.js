// The dashboard's entry point: the login gate, the live event stream, and the views of the
// addresses / (overview), /sessions, /sessions/<id> and /cluster (its link shown only on a node
// of a cluster), switched without reloading the page.

import {auth} from './api.js';
import {clusterView} from './cluster.js';
import {login} from './login.js';
import {overview} from './overview.js';
import {sessionView} from './session.js';
import {sessionsView} from './sessions.js';
import {applyEvent, onChange, refresh, reloadAll, reset, scheduleRefresh, store} from './store.js';
import {EventStream} from './stream.js';

const ROUTES = [
  [/^\/$/, overview],
  [/^\/sessions\/?$/, sessionsView],
  [/^\/sessions\/([^/]+)$/, sessionView],
  [/^\/cluster\/?$/, clusterView],
];
const LIVE_TEXT = {
  connecting: 'Connecting…', live: 'Live', retrying: 'Reconnecting…', gone: 'Offline',
};

const main = document.getElementById('main');
const top = document.getElementById('top');
const live = document.getElementById('live');
const clusterLink = document.getElementById('nav-cluster');
let unmount = null;
let stream = null;

function showLive(state) {
  live.dataset.state = state;
  live.querySelector('.live-text').textContent = LIVE_TEXT[state] ?? state;
}

function navigate(path, {replace = false} = {}) {
  if (path !== location.pathname) history[replace ? 'replaceState' : 'pushState']({}, '', path);
  render(true);
}

function render(moveFocus = false) {
  unmount?.();
  unmount = null;
  const path = location.pathname;
  for (const link of top.querySelectorAll('nav a')) {
    const here = link.getAttribute('href') === '/' ? path === '/' : path.startsWith(link.getAttribute('href'));
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(path);
    if (match) {
      unmount = view(main, {params: match.slice(1), navigate});
      break;
    }
  }
  if (!unmount) {
    main.replaceChildren(Object.assign(document.createElement('h1'), {textContent: 'Not found'}));
  }
  if (moveFocus) main.querySelector('h1')?.focus();
}

async function signedIn() {
  top.hidden = false;
  stream = new EventStream('/api/events', {onEvent: applyEvent, onState: onStreamState, onGap: reloadAll});
  stream.start();
  render();
  await refresh();
}

function onStreamState(state) {
  showLive(state);
  // (Re)connected: anything may have changed while the stream was down.
  if (state === 'live') scheduleRefresh();
}

async function signedOut(message) {
  stream?.stop();
  stream = null;
  unmount?.();
  unmount = null;
  reset();
  top.hidden = true;
  document.querySelectorAll('dialog').forEach((d) => d.close());
  await login(main, message);
  await signedIn();
}

// Links inside the page switch views without a reload (modified clicks keep their meaning).
document.addEventListener('click', (ev) => {
  const link = ev.target.closest('a[data-nav]');
  if (!link || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', () => render(true));
onChange(() => {
  clusterLink.hidden = store.clustered !== true;
});
window.addEventListener('zv:unauthorized', (ev) => {
  if (stream) signedOut(ev.detail.message);
});
document.getElementById('signout').addEventListener('click', () => {
  auth.clear();
  signedOut('Signed out.');
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && stream) scheduleRefresh();
});

if (auth.key) signedIn();
else signedOut('');
