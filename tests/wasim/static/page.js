/*
 * wasim: lifecycle of the fake WhatsApp Web page.
 *
 * boot (Debug.VERSION appears after boot_ms) -> OPENING -> UNPAIRED with a rotating Conn.ref
 * (QR) -> scan -> OPENING -> CONNECTED -> sync (offline progress) -> hasSynced.
 * The pairing lives in the page's storage (IndexedDB, setup.js), so a relaunch on the same
 * profile comes back CONNECTED, even after the browser was killed.
 * Logout clears it and navigates to ?post_logout=1, like WhatsApp Web.
 * cfg.build '2026' adds static/build2026.js and static/lid.js (gradual modules, MsgKey without
 * _serialized, LIDs) and pairing codes that expire without the page renewing them.
 */
(function () {
  'use strict';
  const M = window.__wasimModels, Mods = window.__wasimModules, ui = window.__wasimUi;
  const { LS, store, loadConfig, loadKeys, sentRecord } = window.__wasimSetup;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  const cfg = loadConfig();
  const B26 = cfg.build === '2026' ? window.__wasim2026 : null;
  let clientId = null, auth = null, keys = null;  // from the page's storage, read first in boot()
  let W = null;          // the built modules (after boot)
  let gen = 0;           // bumps on every lifecycle change; stale timers/tasks check it
  let refCount = 0, refTimer = null, refLive = false, codeMode = false, codeTimer = null;
  let synced = null, syncedResolve = null;
  const resetSynced = () => { synced = new Promise((r) => { syncedResolve = r; }); };
  resetSynced();

  const core = {
    build: cfg.build,
    platform: cfg.platform,
    MsgKey: B26 ? B26.MsgKey : M.MsgKey,
    Msg: B26 ? B26.Msg : M.Msg,
    lids: null,  // 2026: the LID table (static/lid.js), once the storage is read
    rpc: (type, data) => channel.rpc(type, data),
    pairingType: 'QR',
    keys: () => keys,
    me: () => (auth ? new M.Wid(auth.phone + '@c.us') : undefined),
    meLid: () => (auth ? new M.Wid(auth.lid + '@lid') : undefined),
    logout: (origin) => logout(origin),
    refreshQR: () => { if (!auth) { cancelCode(); startPairing(); } return Promise.resolve(); },
    takeover: () => resume(),
    reconnect: () => resume(),
    requestPairingCode: (phone, notify) => {
      if (auth) return Promise.reject(new Error('already paired'));
      return channel.rpc('pairing_code', { phone: String(phone), show_notification: !!notify }).then(codeIssued);
    },
    send: (chat, msg, verdict) => channel.rpc('sent', sentRecord(chat, msg, verdict)),
  };

  /** A pairing code arrived. 2026: the QR stops rotating while pairing by phone number. The
   * code's lifetime ends without the page renewing it (the client must ask again). */
  function codeIssued(r) {
    codeMode = true;
    if (B26) {
      gen++;
      clearTimeout(refTimer);
      if (refLive) { refLive = false; channel.send({ type: 'ref_expired', ref: W.Conn.ref }); }
    }
    clearTimeout(codeTimer);
    if (r.ttl_s > 0) {
      codeTimer = setTimeout(() => { if (W.linkEvents) W.linkEvents.triggerRefreshAltLinkingCode(); }, r.ttl_s * 1000);
    }
    return r.code;
  }

  /** Back from pairing by code to the QR (wwebjs cancelPairingCode: Cmd.refreshQR()). */
  function cancelCode() {
    if (!codeMode) return;
    codeMode = false;
    clearTimeout(codeTimer);
    channel.send({ type: 'code_cancelled' });
  }

  function status() {
    return { client_id: clientId, build: cfg.build, url: location.href, version: cfg.version,
      state: W ? W.Socket.state : 'UNLAUNCHED', synced: W ? W.Socket.hasSynced : false,
      ref: W ? W.Conn.ref || null : null, phone: auth ? auth.phone : null,
      pushname: auth ? auth.pushname : null, ready: !!W, ref_live: refLive,
      keys: { noise: keys.b64.noise, identity: keys.b64.identity, adv: keys.adv, platform: cfg.platform } };
  }

  function report() { channel.send(Object.assign({ type: 'status' }, status())); }
  function fail(code, message) { const e = new Error(message); e.status = code; throw e; }
  function setState(s) { W.Socket.set('state', s); }

  function qrString() {
    return [W.Conn.ref, Mods.encodeB64(keys.noise), Mods.encodeB64(keys.identity), keys.adv, cfg.platform].join(',');
  }

  async function nextRef(g) {
    const r = await channel.rpc('ref', {});
    if (g !== gen) return;
    refLive = true;
    W.Conn.set('ref', r.ref);
    refCount++;
    ui.qr(qrString());
    clearTimeout(refTimer);
    refTimer = setTimeout(() => refExpired(g), cfg.ref_ttl_s * 1000);
  }

  function refExpired(g) {
    if (g !== gen) return;
    if (refCount >= cfg.max_refs) {
      refLive = false;
      channel.send({ type: 'ref_expired', ref: W.Conn.ref });
      setState('UNPAIRED_IDLE');
      ui.idle(() => W.Cmd.refreshQR());
      report();
    } else {
      nextRef(g);
    }
  }

  async function startPairing() {
    const g = ++gen;
    clearTimeout(refTimer);
    refCount = 0;
    await nextRef(g);
    if (g === gen) setState('UNPAIRED');
  }

  /** Sync with progress reports; `first` (right after linking) takes first_sync_ms if set. */
  async function runSync(g, first) {
    const ms = first && cfg.first_sync_ms > 0 ? cfg.first_sync_ms : cfg.sync_ms;
    const n = cfg.sync_steps;
    const steps = n > 0 ? Array.from({ length: n + 1 }, (_, i) => Math.round((100 * i) / n)) : [0, 20, 45, 70, 100];
    for (const p of steps) {
      if (g !== gen) return;
      W.Offline.setProgress(p);
      ui.progress(p);
      W.Cmd.trigger('offline_progress_update_from_bridge', p);
      W.Cmd.trigger('offline_progress_update', p);
      await sleep(ms / steps.length);
    }
    if (g !== gen) return;
    W.Socket.set({ stream: 'CONNECTED', hasSynced: true });
    ui.connected(auth.phone, auth.pushname);
    syncedResolve();
  }

  async function connectPaired(first) {
    const g = ++gen;
    W.Conn.set({ wid: core.me(), pushname: auth.pushname, platform: auth.platform });
    W.Socket.set('stream', 'SYNCING');
    setState('CONNECTED');
    if (!W.Socket.hasSynced) await runSync(g, first);
  }

  /** takeover()/reconnect(): back through OPENING to where the session belongs. */
  async function resume() {
    const g = ++gen;
    setState('OPENING');
    await sleep(cfg.open_ms);
    if (g !== gen) return;
    if (auth) await connectPaired(); else await startPairing();
  }

  async function logout(origin) {
    gen++;
    clearTimeout(refTimer);
    auth = null;
    if (core.lids) core.lids.clear();
    store.remove(LS.auth);
    store.remove(LS.keys);
    keys = loadKeys();
    W.Cmd.trigger('logout');
    channel.send({ type: 'logged_out', origin });
    report();
    const url = new URL(location.href);
    url.searchParams.set('post_logout', '1');
    setTimeout(() => { location.href = url.toString(); }, cfg.logout_nav_ms);
    return { navigating_to: url.toString() };
  }

  function pair(cmd) {
    if (auth) fail(409, 'already paired');
    const state = W ? W.Socket.state : 'UNLAUNCHED';
    if (state !== 'UNPAIRED' && state !== 'UNPAIRED_IDLE') fail(409, 'page is not showing a QR (state ' + state + ')');
    if (cmd.via === 'qr' && (!refLive || cmd.ref !== W.Conn.ref)) fail(409, 'stale QR ref');
    gen++;
    clearTimeout(refTimer);
    clearTimeout(codeTimer);
    refLive = false;
    codeMode = false;
    auth = { phone: cmd.phone, pushname: cmd.pushname || null, lid: cmd.lid, platform: cmd.platform || 'android' };
    store.set(LS.auth, auth);
    const known = [{ phone: cmd.phone, lid: cmd.lid }].concat(cmd.contacts || []);  // 2026: us + address book
    if (core.lids) for (const c of known) core.lids.learn(c.phone, c.lid);
    for (const c of cmd.contacts || []) W.messaging.contact(c.phone + '@c.us');  // the address book
    setTimeout(async () => {
      const g = ++gen;
      setState('OPENING');
      await sleep(cfg.open_ms);
      if (g === gen && auth) await connectPaired(true);
    }, 0);
    return { wid: auth.phone + '@c.us' };
  }

  async function incoming(cmd) {
    if (!auth) fail(409, 'page is not paired');
    await synced;
    if (!auth) fail(409, 'page is not paired');
    return window.__wasimIncoming.deliver(core, W, cmd);
  }

  function onCommand(cmd) {
    if (!W && cmd.cmd !== 'ping') fail(503, 'page has not booted');
    switch (cmd.cmd) {
      case 'ping': return status();
      case 'pair': return pair(cmd);
      case 'incoming': return incoming(cmd);
      case 'ack': {
        const m = W.Msg.get(cmd.message_id);
        if (!m) fail(404, 'no such message on the page: ' + cmd.message_id);
        m.set('ack', cmd.ack);
        return { id: cmd.message_id, ack: m.ack };
      }
      case 'logout':
        if (!auth) fail(409, 'page is not paired');
        return logout('phone');
      case 'state':
        if (!Mods.WA_STATES.includes(cmd.state)) fail(400, 'unknown state ' + cmd.state);
        gen++;
        clearTimeout(refTimer);
        if (refLive) { refLive = false; channel.send({ type: 'ref_expired', ref: W.Conn.ref }); }
        setState(cmd.state);
        if (cmd.state === 'CONNECTED' && auth && !W.Socket.hasSynced) runSync(gen);
        return { state: W.Socket.state };
      default: {
        if (!auth) fail(409, 'page is not paired');
        const done = W.messaging.command(cmd);
        return done === undefined ? fail(400, 'unknown command ' + cmd.cmd) : done;
      }
    }
  }

  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const channel = new window.__wasimChannel(proto + '//' + location.host + '/_sim/ws', status, onCommand);

  async function boot() {
    ui.note('Loading WhatsApp (simulator)…');
    const registry = B26 ? B26.registry() : null;
    if (registry) window.require = registry.require;  // 2026: the module system comes first
    await store.load();
    clientId = store.get(LS.id);
    if (!clientId) { clientId = crypto.randomUUID(); store.set(LS.id, clientId); }
    auth = store.get(LS.auth);
    keys = loadKeys();
    if (B26) core.lids = new window.__wasimLid.LidTable();
    channel.connect();
    await sleep(cfg.boot_ms);
    if (cfg.no_debug) { ui.note('Loading WhatsApp (simulator)… (no_debug: this page never becomes ready)'); return; }
    W = Mods.build(core);
    window.__wasimMessaging.build(core, W);
    if (B26) B26.extend(W, core);
    W.Socket.set('state', 'OPENING');
    W.Socket.on('change:state change:hasSynced', report);
    W.Conn.on('change:ref', report);
    const modules = Mods.withoutMissing(W.modules, cfg.missing);
    if (registry) B26.register(registry, modules, cfg.late_modules_ms);
    else window.require = Mods.makeRequire(modules);
    window.Debug = { VERSION: cfg.version };
    report();
    await channel.welcomed;
    await sleep(cfg.open_ms);
    if (W.Socket.state !== 'OPENING') return;
    if (auth) await connectPaired(); else await startPairing();
  }

  boot();
})();
