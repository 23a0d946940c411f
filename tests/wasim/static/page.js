/*
 * wasim: lifecycle of the fake WhatsApp Web page.
 *
 * boot (Debug.VERSION appears after boot_ms) -> OPENING -> UNPAIRED with a rotating Conn.ref
 * (QR) -> scan -> OPENING -> CONNECTED -> sync (offline progress) -> hasSynced.
 * The pairing lives in localStorage, so a relaunch on the same profile comes back CONNECTED.
 * Logout clears it and navigates to ?post_logout=1, like WhatsApp Web.
 */
(function () {
  'use strict';
  const M = window.__wasimModels, Mods = window.__wasimModules, ui = window.__wasimUi;
  const LS = { id: 'wasim.client_id', auth: 'wasim.auth', keys: 'wasim.keys' };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function loadConfig() {
    const cfg = JSON.parse(document.getElementById('wasim-config').textContent);
    const q = new URLSearchParams(location.search);
    for (const k of ['boot_ms', 'open_ms', 'sync_ms', 'ref_ttl_s', 'max_refs', 'logout_nav_ms']) {
      if (q.has(k)) cfg[k] = Number(q.get(k));
    }
    if (q.has('version')) cfg.version = q.get('version');
    return cfg;
  }

  function randomB64(n) { return Mods.encodeB64(crypto.getRandomValues(new Uint8Array(n))); }

  function loadKeys() {
    let k = JSON.parse(localStorage.getItem(LS.keys) || 'null');
    if (!k) {
      k = { noise: randomB64(32), identity: randomB64(32), adv: randomB64(32),
        registrationId: 1 + Math.floor(Math.random() * 16380) };
      localStorage.setItem(LS.keys, JSON.stringify(k));
    }
    return { noise: Mods.decodeB64(k.noise), identity: Mods.decodeB64(k.identity), adv: k.adv,
      registrationId: k.registrationId, b64: k };
  }

  const cfg = loadConfig();
  let clientId = localStorage.getItem(LS.id);
  if (!clientId) { clientId = crypto.randomUUID(); localStorage.setItem(LS.id, clientId); }
  let auth = JSON.parse(localStorage.getItem(LS.auth) || 'null');
  let keys = loadKeys();
  let W = null;          // the built modules (after boot)
  let gen = 0;           // bumps on every lifecycle change; stale timers/tasks check it
  let refCount = 0, refTimer = null, refLive = false;
  let synced = null, syncedResolve = null;
  const resetSynced = () => { synced = new Promise((r) => { syncedResolve = r; }); };
  resetSynced();

  const core = {
    platform: cfg.platform,
    pairingType: 'QR',
    keys: () => keys,
    me: () => (auth ? new M.Wid(auth.phone + '@c.us') : undefined),
    meLid: () => (auth ? new M.Wid(auth.lid + '@lid') : undefined),
    logout: (origin) => logout(origin),
    refreshQR: () => { if (!auth) startPairing(); return Promise.resolve(); },
    takeover: () => resume(),
    reconnect: () => resume(),
    requestPairingCode: (phone, notify) => {
      if (auth) return Promise.reject(new Error('already paired'));
      return channel.rpc('pairing_code', { phone: String(phone), show_notification: !!notify }).then((r) => r.code);
    },
    send: (chat, msg) => channel.rpc('sent', { id: msg.id._serialized, to: chat.id._serialized,
      body: msg.body, t: msg.t, msg_type: msg.type }),
  };

  function status() {
    return { client_id: clientId, url: location.href, version: cfg.version,
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

  async function runSync(g) {
    const steps = [0, 20, 45, 70, 100];
    for (const p of steps) {
      if (g !== gen) return;
      W.Offline.setProgress(p);
      ui.progress(p);
      W.Cmd.trigger('offline_progress_update_from_bridge', p);
      W.Cmd.trigger('offline_progress_update', p);
      await sleep(cfg.sync_ms / steps.length);
    }
    if (g !== gen) return;
    W.Socket.set({ stream: 'CONNECTED', hasSynced: true });
    ui.connected(auth.phone, auth.pushname);
    syncedResolve();
  }

  async function connectPaired() {
    const g = ++gen;
    W.Conn.set({ wid: core.me(), pushname: auth.pushname, platform: auth.platform });
    W.Socket.set('stream', 'SYNCING');
    setState('CONNECTED');
    if (!W.Socket.hasSynced) await runSync(g);
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
    localStorage.removeItem(LS.auth);
    localStorage.removeItem(LS.keys);
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
    refLive = false;
    auth = { phone: cmd.phone, pushname: cmd.pushname || null, lid: cmd.lid, platform: cmd.platform || 'android' };
    localStorage.setItem(LS.auth, JSON.stringify(auth));
    setTimeout(async () => {
      const g = ++gen;
      setState('OPENING');
      await sleep(cfg.open_ms);
      if (g === gen && auth) await connectPaired();
    }, 0);
    return { wid: auth.phone + '@c.us' };
  }

  async function incoming(cmd) {
    if (!auth) fail(409, 'page is not paired');
    await synced;
    if (!auth) fail(409, 'page is not paired');
    const me = core.me();
    const isStatus = cmd.kind === 'status', isGroup = cmd.kind === 'group';
    const remote = new M.Wid(isStatus ? 'status@broadcast' : cmd.from);
    const author = isGroup || isStatus ? M.toWid(cmd.author) : undefined;
    const id = new M.MsgKey({ fromMe: false, remote, id: cmd.id, participant: author });
    const msg = new M.Msg({ id, body: cmd.body, type: 'chat', t: cmd.t, from: remote, to: me, author,
      notifyName: cmd.pushname || '', ack: 1, isNewMsg: true, local: false, self: 'in',
      isStatusV3: isStatus, broadcast: isStatus, isForwarded: false, mentionedJidList: [] });
    if (!author) delete msg.author;
    const { chat } = W.findOrCreateChat(remote);
    chat.set({ t: msg.t, unreadCount: (chat.unreadCount || 0) + 1 });
    chat.msgs.add(msg);
    W.Msg.add(msg);
    return { id: id._serialized, from: remote._serialized, to: me._serialized, t: msg.t };
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
      default: return fail(400, 'unknown command ' + cmd.cmd);
    }
  }

  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const channel = new window.__wasimChannel(proto + '//' + location.host + '/_sim/ws', status, onCommand);

  async function boot() {
    ui.note('Loading WhatsApp (simulator)…');
    channel.connect();
    await sleep(cfg.boot_ms);
    if (cfg.no_debug) { ui.note('Loading WhatsApp (simulator)… (no_debug: this page never becomes ready)'); return; }
    W = Mods.build(core);
    W.Socket.set('state', 'OPENING');
    W.Socket.on('change:state change:hasSynced', report);
    W.Conn.on('change:ref', report);
    window.require = Mods.makeRequire(W.modules);
    window.Debug = { VERSION: cfg.version };
    report();
    await channel.welcomed;
    await sleep(cfg.open_ms);
    if (W.Socket.state !== 'OPENING') return;
    if (auth) await connectPaired(); else await startPairing();
  }

  boot();
})();
