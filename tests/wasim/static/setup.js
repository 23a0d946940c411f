/*
 * wasim: what the fake WhatsApp Web page reads at start (its config, its stored session) and the
 * record of a sent message it reports to "WhatsApp's servers".
 *
 * The session (client id, keys, the linked account, the 2026 LID table) is kept the way WhatsApp
 * Web keeps it: in IndexedDB (whatsapp-web.js src/authStrategies/RemoteAuth.js restores a session
 * from the profile's "IndexedDB" and "Local Storage" folders, its requiredDirs). Chrome writes an
 * IndexedDB transaction at its commit, so the session outlives a killed browser; localStorage
 * reaches the disk seconds later, and its last writes die with a killed Chrome. `store` loads the IndexedDB copy once (`await store.load()`,
 * before anything reads it), then reads from memory; writes go to IndexedDB, and to localStorage
 * for tools that read the client id there (tests/bench), never read back.
 */
(function () {
  'use strict';
  const Mods = window.__wasimModules;
  const LS = { id: 'wasim.client_id', auth: 'wasim.auth', keys: 'wasim.keys' };

  const store = (() => {
    const mem = new Map();
    let db = null;
    const done = (req) => new Promise((resolve) => { req.onsuccess = () => resolve(req.result); req.onerror = () => resolve(null); });
    const tx = (mode) => db.transaction('kv', mode).objectStore('kv');
    return {
      async load() {
        const open = indexedDB.open('wasim', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('kv');
        db = await done(open);
        const [keys, values] = db ? await Promise.all([done(tx('readonly').getAllKeys()), done(tx('readonly').getAll())]) : [[], []];
        (keys || []).forEach((k, i) => mem.set(k, values[i]));
      },
      get(key) { return mem.has(key) ? mem.get(key) : null; },
      set(key, value) {
        mem.set(key, value);
        localStorage.setItem(key, typeof value === 'string' ? value : JSON.stringify(value));
        if (db) tx('readwrite').put(value, key);
      },
      remove(key) {
        mem.delete(key);
        localStorage.removeItem(key);
        if (db) tx('readwrite').delete(key);
      },
    };
  })();

  function loadConfig() {
    const cfg = JSON.parse(document.getElementById('wasim-config').textContent);
    const q = new URLSearchParams(location.search);
    for (const k of ['boot_ms', 'open_ms', 'sync_ms', 'ref_ttl_s', 'max_refs', 'logout_nav_ms',
      'first_sync_ms', 'sync_steps', 'late_modules_ms']) {
      if (q.has(k)) cfg[k] = Number(q.get(k));
    }
    if (q.has('version')) cfg.version = q.get('version');
    return cfg;
  }

  function randomB64(n) { return Mods.encodeB64(crypto.getRandomValues(new Uint8Array(n))); }

  function loadKeys() {
    let k = store.get(LS.keys);
    if (!k) {
      k = { noise: randomB64(32), identity: randomB64(32), adv: randomB64(32),
        registrationId: 1 + Math.floor(Math.random() * 16380) };
      store.set(LS.keys, k);
    }
    return { noise: Mods.decodeB64(k.noise), identity: Mods.decodeB64(k.identity), adv: k.adv,
      registrationId: k.registrationId, b64: k };
  }

  /** What the server records of a sent message (GET /_sim/sent); `verdict` from static/lid.js. */
  function sentRecord(chat, msg, verdict) {
    const media = msg.directPath ? { direct_path: msg.directPath, mimetype: msg.mimetype, filename: msg.filename || null,
      caption: msg.caption || null, size: msg.size } : {};
    return Object.assign({ id: String(msg.id), to: String(chat.id), body: msg.directPath ? null : msg.body, t: msg.t,
      msg_type: msg.type, from: msg.from ? String(msg.from) : null,
      participant: msg.id.participant ? String(msg.id.participant) : null,
      quoted_id: msg.quotedStanzaID || null, mentions: (msg.mentionedJidList || []).map(String) }, media, verdict || {});
  }

  window.__wasimSetup = { LS, store, loadConfig, loadKeys, sentRecord };
})();
