/*
 * wasim: what the fake WhatsApp Web page reads at start (its config, its keys in localStorage)
 * and the record of a sent message it reports to "WhatsApp's servers".
 */
(function () {
  'use strict';
  const Mods = window.__wasimModules;
  const LS = { id: 'wasim.client_id', auth: 'wasim.auth', keys: 'wasim.keys' };

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
    let k = JSON.parse(localStorage.getItem(LS.keys) || 'null');
    if (!k) {
      k = { noise: randomB64(32), identity: randomB64(32), adv: randomB64(32),
        registrationId: 1 + Math.floor(Math.random() * 16380) };
      localStorage.setItem(LS.keys, JSON.stringify(k));
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

  window.__wasimSetup = { LS, loadConfig, loadKeys, sentRecord };
})();
