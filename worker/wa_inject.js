/*
 * zapvisor: everything that touches WhatsApp Web's internals, on the page side.
 *
 * Added by worker/whatsapp.py to every new document (it only defines functions; nothing runs
 * before `install()`, which the worker calls once `ready()`). Uses only what the real page
 * offers: `window.Debug.VERSION` and `window.require('WAWeb…')` modules
 * (research/whatsapp-anchors.md §8). Defines `window.__zapvisor`; events go back to
 * the worker through the binding named in `install()` (pyppeteer's exposeFunction), each one
 * tagged with the generation given to the latest `install()`, so the worker can drop events
 * of a document it already left.
 */
(function () {
  'use strict';
  if (window.__zapvisor) return;  // once per document: listeners must not be attached twice

  const mod = (name) => window.require(name);
  const ser = (wid) => (wid ? (wid._serialized || String(wid)) : null);
  let binding = null;
  let gen = 0;
  let listening = false;
  const ours = new Set();  // ids of messages sent through sendText: not reported as incoming

  function post(type, data) {
    if (!binding || typeof window[binding] !== 'function') return;
    // The binding answers with a promise nobody needs; a failed call must not break WA's code.
    Promise.resolve(window[binding](Object.assign({ type, gen }, data))).catch(() => undefined);
  }

  /** The QR string of anchors §8 item 7: ref,staticKey,identityKey,advSecret,platform. */
  async function qr() {
    const ref = mod('WAWebConnModel').Conn.ref;
    if (!ref) return null;
    const B = mod('WABase64');
    const noise = await mod('WAWebUserPrefsInfoStore').waNoiseInfo.get();
    const reg = await mod('WAWebSignalStoreApi').waSignalStore.getRegistrationInfo();
    const adv = await mod('WAWebAdvSignatureApi').getADVSecretKey();
    const platform = mod('WAWebCompanionRegClientUtils').DEVICE_PLATFORM;
    const parts = [ref, B.encodeB64(noise.staticKeyPair.pubKey),
      B.encodeB64(reg.identityKeyPair.pubKey), adv, platform];
    return { ref, qr: parts.join(',') };
  }

  /** The logged-in account, or null. */
  function me() {
    const users = mod('WAWebUserPrefsMeUser');
    const wid = users.getMaybeMePnUser() || users.getMaybeMeLidUser();
    if (!wid) return null;
    return { wid: ser(wid), user: wid.user, pushname: mod('WAWebConnModel').Conn.pushname || null };
  }

  function kindOf(chat) {
    if (chat === 'status@broadcast') return 'status';
    const server = String(chat || '').split('@')[1];
    if (server === 'g.us') return 'group';
    if (server === 'newsletter') return 'newsletter';
    if (server === 'broadcast') return 'broadcast';
    return 'private';
  }

  /** A message model as plain JSON (the worker's `message` event payload). */
  function message(m) {
    const chat = ser(m.id.remote);
    return {
      id: ser(m.id), from: ser(m.from), to: ser(m.to), chat_id: chat,
      body: typeof m.body === 'string' ? m.body : '', msg_type: m.type, timestamp: m.t,
      from_me: !!m.id.fromMe, author: ser(m.author) || null,
      kind: m.isStatusV3 ? 'status' : kindOf(chat), notify_name: m.notifyName || null,
    };
  }

  function snapshot() {
    const S = mod('WAWebSocketModel').Socket;
    return { state: S.state, synced: !!S.hasSynced, ref: mod('WAWebConnModel').Conn.ref || null,
      version: window.Debug.VERSION };
  }

  function listen() {
    const S = mod('WAWebSocketModel').Socket;
    const Conn = mod('WAWebConnModel').Conn;
    const Cmd = mod('WAWebCmd').Cmd;
    const Msg = mod('WAWebCollections').Msg;
    // Read the models themselves: listener argument shapes differ between WA builds.
    S.on('change:state', () => post('state', { state: S.state }));
    S.on('change:hasSynced', () => post('synced', { synced: !!S.hasSynced }));
    Conn.on('change:ref', () => {
      qr().then((q) => { if (q) post('qr', q); })
        .catch((e) => post('error', { where: 'qr', message: String(e && e.message || e) }));
    });
    Cmd.on('logout', () => post('logout', {}));
    Cmd.on('logout_from_bridge', () => post('logout', {}));
    Msg.on('add', (m) => {
      if (!m || !m.isNewMsg || ours.delete(ser(m.id))) return;
      if (m.type === 'ciphertext') {  // not decrypted yet: report it once it is
        m.once('change:type', () => post('message', message(m)));
        return;
      }
      post('message', message(m));
    });
    Msg.on('change:ack', (m) => post('ack', { id: ser(m.id), ack: m.ack }));
  }

  /**
   * Attach the listeners (first), then read the current state: a page that synced before we
   * listened is still seen as synced. Returns the state, plus the QR when one is shown.
   */
  async function install(bindingName, generation) {
    binding = bindingName;
    gen = generation;
    if (!listening) {
      listen();
      listening = true;
    }
    const now = snapshot();
    if (now.ref && (now.state === 'UNPAIRED' || now.state === 'UNPAIRED_IDLE')) {
      const q = await qr();
      if (q) now.qr = q.qr;
    }
    return now;
  }

  /** Send a text (anchors §8 item 13); resolves once the page handed it to the server. */
  async function sendText(to, body) {
    const wid = mod('WAWebWidFactory').createWid(to);
    const chat = mod('WAWebCollections').Chat.get(wid)
      || (await mod('WAWebFindChatAction').findOrCreateLatestChat(wid)).chat;
    const MsgKey = mod('WAWebMsgKey');
    const users = mod('WAWebUserPrefsMeUser');
    const meWid = users.getMaybeMePnUser() || users.getMaybeMeLidUser();
    const key = new MsgKey({ from: meWid, to: chat.id, id: await MsgKey.newId(),
      participant: chat.id.isGroup() ? meWid : undefined, selfDir: 'out' });
    ours.add(key._serialized);
    const sent = mod('WAWebSendMsgChatAction').addAndSendMsgToChat(chat, {
      id: key, ack: 0, body, from: meWid, to: chat.id, local: true, self: 'out',
      t: Math.floor(Date.now() / 1000), isNewMsg: true, type: 'chat' });
    await Promise.all(Array.isArray(sent) ? sent : [sent]);
    const msg = mod('WAWebCollections').Msg.get(key._serialized);
    return { id: key._serialized, to: ser(chat.id), ack: msg ? msg.ack : 0,
      timestamp: msg ? msg.t : Math.floor(Date.now() / 1000) };
  }

  /** An 8-character code to type on the phone instead of scanning (anchors §8 item 8). */
  async function pairingCode(phone, showNotification) {
    const link = mod('WAWebAltDeviceLinkingApi');
    link.setPairingType('ALT_DEVICE_LINKING');
    await link.initializeAltDeviceLinking();
    return String(await link.startAltLinkingFlow(phone, showNotification));
  }

  /** True once WhatsApp Web's modules are there (anchors §8 item 4). */
  function ready() {
    return !!(window.Debug && window.Debug.VERSION) && typeof window.require === 'function';
  }

  window.__zapvisor = {
    ready, install, qr, me, sendText, pairingCode,
    // Next turn: the call must return before the page starts leaving (post_logout=1).
    logout: () => { setTimeout(() => mod('WAWebSocketModel').Socket.logout(), 0); return true; },
    takeover: () => { mod('WAWebSocketModel').Socket.takeover(); return true; },
    refreshQR: () => { mod('WAWebCmd').Cmd.refreshQR(); return true; },
  };
})();
