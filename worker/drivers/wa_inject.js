/*
 * zapvisor: everything that touches WhatsApp Web's internals, on the page side.
 *
 * Added by the WhatsApp driver to every new document (it only defines functions; nothing runs
 * before `install()`). Uses only what the real page offers: `window.Debug.VERSION` and
 * `window.require('WAWeb…')` modules (research/whatsapp-anchors.md §8, §10). Defines
 * `window.__zapvisor` (frozen, not replaceable).
 *
 * Events go back to the worker through its CDP binding, whose random name the worker passes in
 * as `bindingName`. This script runs at the start of every document, before any of the page's
 * scripts: it keeps the binding in its closure and takes it off `window`, so no other script
 * can call it. Each event carries the random generation token of the latest `install()`; the
 * worker drops any event without the current one (a document it already left, or a forgery).
 *
 * WhatsApp Web changes under us about monthly (§10), so:
 * - modules register gradually after `Debug.VERSION` and `require` throws for one not there yet
 *   (§10.5): `missing(stage)` names what is not there; the worker waits, then fails with names;
 * - ids are serialized with `String(x)`, never `._serialized` (MsgKey lost it in 2026, §10.1);
 * - several things have two homes across builds (the ADV secret, §10.7): first one found wins.
 */
(function () {
  'use strict';
  if (window.__zapvisor) return;  // once per document: listeners must not be attached twice

  // Taken now, before the page's own scripts exist: they can neither call the binding nor
  // change the built-ins that turn an event into the binding's string.
  const send = typeof window[bindingName] === 'function' ? window[bindingName] : null;
  try { delete window[bindingName]; } catch (e) { /* a non-configurable binding stays */ }
  const stringify = JSON.stringify;
  const keysOf = Object.keys;
  const bare = () => Object.create(null);

  const mod = (name) => window.require(name);
  const ser = (x) => (x === null || x === undefined ? null : String(x));
  let gen = null;  // the latest install()'s token: only the worker and this closure know it
  let listening = null;  // the stages whose listeners are attached
  const ours = new Set();  // ids of messages sent through sendText: not reported as incoming

  /** The ADV secret's home: WAWebUserPrefsMultiDevice in 2026 (§10.7), before that the other. */
  const ADV_SECRET = ['WAWebUserPrefsMultiDevice.getADVSecretKey', 'WAWebAdvSignatureApi.getADVSecretKey'];

  /** What each stage needs: 'module.path' (all required) or [alternatives] (one of them). */
  const NEEDS = {
    login: ['WAWebSocketModel.Socket', 'WAWebConnModel.Conn', 'WAWebCmd.Cmd', 'WABase64.encodeB64',
      'WAWebUserPrefsInfoStore.waNoiseInfo', 'WAWebSignalStoreApi.waSignalStore',
      ADV_SECRET,
      'WAWebCompanionRegClientUtils.DEVICE_PLATFORM',
      'WAWebAltDeviceLinkingApi.startAltLinkingFlow'],
    chat: ['WAWebCollections.Msg', 'WAWebCollections.Chat', 'WAWebWidFactory.createWid',
      'WAWebMsgKey.newId', 'WAWebSendMsgChatAction.addAndSendMsgToChat',
      'WAWebFindChatAction.findOrCreateLatestChat', 'WAWebUserPrefsMeUser.getMaybeMePnUser',
      'WAWebUserPrefsMeUser.getMaybeMeLidUser'],
  };

  /** The value at 'module.path', or undefined (a module not registered yet throws). */
  function lookup(path) {
    const [name, ...attrs] = path.split('.');
    let value;
    try { value = mod(name); } catch (e) { return undefined; }
    for (const attr of attrs) value = value === null || value === undefined ? undefined : value[attr];
    return value;
  }
  const fn = (path) => { const f = lookup(path); return typeof f === 'function' ? f : null; };
  /** Call 'module.function' as a method of its module. */
  function call(path, ...args) {
    const dot = path.lastIndexOf('.');
    return lookup(path.slice(0, dot))[path.slice(dot + 1)](...args);
  }

  /** The names of `stage`'s needs that the page does not offer (now). */
  function missing(stage) {
    return NEEDS[stage].filter((need) => (Array.isArray(need) ? need : [need])
      .every((path) => lookup(path) === undefined)).map((need) => [].concat(need).join(' or '));
  }

  function post(type, data) {
    if (!send || gen === null) return;
    // No prototype: a toJSON a page script puts on Object.prototype never sees the token.
    const event = bare();
    for (const key of keysOf(data)) event[key] = data[key];
    event.type = type;
    event.gen = gen;
    try { send(stringify(event)); } catch (e) { /* a failed call must not break WA's code */ }
  }
  const failed = (where) => (e) => post('error', { where, message: String((e && e.message) || e) });

  /** The QR string of anchors §8 item 7: ref,staticKey,identityKey,advSecret,platform. */
  async function qr() {
    const ref = mod('WAWebConnModel').Conn.ref;
    if (!ref) return null;
    const B = mod('WABase64');
    const noise = await mod('WAWebUserPrefsInfoStore').waNoiseInfo.get();
    const reg = await mod('WAWebSignalStoreApi').waSignalStore.getRegistrationInfo();
    const adv = await call(ADV_SECRET.find((path) => fn(path)));
    const platform = mod('WAWebCompanionRegClientUtils').DEVICE_PLATFORM;
    const parts = [ref, B.encodeB64(noise.staticKeyPair.pubKey),
      B.encodeB64(reg.identityKeyPair.pubKey), adv, platform];
    return { ref, qr: parts.join(',') };
  }

  /** The logged-in account, or null: its phone number and, where known, its LID. */
  function me() {
    const users = mod('WAWebUserPrefsMeUser');
    const pn = users.getMaybeMePnUser();
    const lid = fn('WAWebUserPrefsMeUser.getMaybeMeLidUser') ? users.getMaybeMeLidUser() : null;
    const wid = pn || lid;
    if (!wid) return null;
    return { wid: ser(wid), user: wid.user, lid: ser(lid),
      pushname: mod('WAWebConnModel').Conn.pushname || null };
  }

  /** A user's phone number (digits) from a `@lid` id, when WhatsApp knows it (§10.3-4). */
  function phoneOf(wid) {
    if (!wid) return null;
    if (wid.server === 'c.us') return wid.user;
    const get = fn('WAWebApiContact.getPhoneNumber');
    if (wid.server !== 'lid' || !get) return null;
    try { const pn = get(wid); return pn ? pn.user || String(pn).split('@')[0] : null; } catch (e) { return null; }
  }

  function kindOf(chat) {
    if (chat === 'status@broadcast') return 'status';
    const server = String(chat || '').split('@')[1];
    if (server === 'g.us') return 'group';
    if (server === 'newsletter') return 'newsletter';
    if (server === 'broadcast') return 'broadcast';
    return 'private';
  }

  const MEDIA = new Set(['image', 'video', 'document', 'audio', 'ptt', 'sticker']);

  /** A message model as plain JSON (the worker's `message` event payload). */
  function message(m) {
    const chat = ser(m.id.remote);
    const media = MEDIA.has(m.type) || !!m.directPath;
    const sender = m.author || (m.id.fromMe ? null : m.from);
    return {
      id: ser(m.id), from: ser(m.from), to: ser(m.to), chat_id: chat,
      // A media message's body is its base64 thumbnail; its text is the caption (§10.6).
      body: media ? (m.caption || '') : (typeof m.body === 'string' ? m.body : ''),
      msg_type: m.type, timestamp: m.t, from_me: !!m.id.fromMe, author: ser(m.author) || null,
      sender_id: ser(sender), sender_phone: phoneOf(sender),
      kind: m.isStatusV3 ? 'status' : kindOf(chat), notify_name: m.notifyName || null,
      has_media: media, mimetype: media ? m.mimetype || null : null,
      filename: media ? m.filename || null : null, size: media ? m.size || null : null,
    };
  }

  function snapshot() {
    const S = mod('WAWebSocketModel').Socket;
    return { state: S.state, synced: !!S.hasSynced, ref: mod('WAWebConnModel').Conn.ref || null,
      version: window.Debug.VERSION };
  }

  function listenLogin() {
    const S = mod('WAWebSocketModel').Socket;
    const Conn = mod('WAWebConnModel').Conn;
    const Cmd = mod('WAWebCmd').Cmd;
    // Read the models themselves: listener argument shapes differ between WA builds.
    S.on('change:state', () => post('state', { state: S.state }));
    S.on('change:hasSynced', () => post('synced', { synced: !!S.hasSynced }));
    Conn.on('change:ref', () => { qr().then((q) => { if (q) post('qr', q); }).catch(failed('qr')); });
    Cmd.on('logout', () => post('logout', {}));
    Cmd.on('logout_from_bridge', () => post('logout', {}));
    Cmd.on('offline_progress_update_from_bridge', (p) => post('sync', {
      percent: typeof p === 'number' ? p : (p && (p.percent !== undefined ? p.percent : p.progress)) }));
  }

  function listenChat() {
    const Msg = mod('WAWebCollections').Msg;
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
   * Attach the listeners of `stage` ('login', then 'chat' once its modules are there) first,
   * then read the current state: a page that synced before we listened is still seen as synced.
   */
  async function install(generation, stage) {
    gen = String(generation);
    listening = listening || new Set();
    if (!listening.has('login')) { listenLogin(); listening.add('login'); }
    if (stage === 'chat' && !listening.has('chat')) { listenChat(); listening.add('chat'); }
    const now = snapshot();
    if (now.ref && (now.state === 'UNPAIRED' || now.state === 'UNPAIRED_IDLE')) {
      const q = await qr();
      if (q) now.qr = q.qr;
    }
    return now;
  }

  class Refused extends Error {
    constructor(code, message) { super(message); this.name = 'Refused'; this.code = code; }
  }

  /** The chat to send to; a phone number's LID is resolved first where the page has LIDs
   * (§10.3: findOrCreateLatestChat throws "No LID for user" for a number never seen). */
  async function chatFor(to) {
    const wid = mod('WAWebWidFactory').createWid(to);
    const Chat = mod('WAWebCollections').Chat;
    const known = Chat.get(wid);
    if (known) return known;
    if (wid.server === 'c.us' && fn('WAWebApiContact.getCurrentLid')) {
      const C = mod('WAWebApiContact');
      let lid = C.getCurrentLid(wid);
      if (!lid && fn('WAWebQueryExistsJob.queryWidExists')) {
        const found = await mod('WAWebQueryExistsJob').queryWidExists(wid);
        if (!found || !found.wid) throw new Refused('NotOnWhatsApp', `${wid.user} is not on WhatsApp`);
        lid = C.getCurrentLid(wid);
      }
      if (lid && Chat.get(lid)) return Chat.get(lid);
    }
    const found = await mod('WAWebFindChatAction').findOrCreateLatestChat(wid);
    return (found && found.chat) || found;
  }

  /** Our id as this chat addresses us (§10.2): the LID in `@lid` chats and in groups in LID
   * addressing mode, the phone number elsewhere. */
  function meIn(chat) {
    const users = mod('WAWebUserPrefsMeUser');
    const lidMode = chat.id.server === 'lid'
      || (chat.id.server === 'g.us' && !!(chat.groupMetadata && chat.groupMetadata.isLidAddressingMode));
    const lid = users.getMaybeMeLidUser();
    return (lidMode && lid) || users.getMaybeMePnUser() || lid;
  }

  /** Send a text (anchors §8 item 13); resolves once the page handed it to the server, or
   * with `{error: {type, message}}` when WhatsApp refuses the recipient. */
  async function sendText(to, body) {
    let chat;
    try {
      chat = await chatFor(to);
    } catch (e) {
      if (e instanceof Refused) return { error: { type: e.code, message: e.message } };
      throw e;
    }
    const MsgKey = mod('WAWebMsgKey');
    const from = meIn(chat);
    const group = chat.id.server === 'g.us';
    const key = new MsgKey({ from, to: chat.id, id: await MsgKey.newId(),
      participant: group ? from : undefined, selfDir: 'out' });
    const id = ser(key);
    ours.add(id);
    const sent = mod('WAWebSendMsgChatAction').addAndSendMsgToChat(chat, {
      id: key, ack: 0, body, from, to: chat.id, local: true, self: 'out',
      t: Math.floor(Date.now() / 1000), isNewMsg: true, type: 'chat' });
    await Promise.all(Array.isArray(sent) ? sent : [sent]);
    const msg = mod('WAWebCollections').Msg.get(key);
    return { id: msg ? ser(msg.id) : id, to: ser(chat.id), ack: msg ? msg.ack : 0,
      timestamp: msg ? msg.t : Math.floor(Date.now() / 1000) };
  }

  /** An 8-character code to type on the phone instead of scanning (anchors §8 item 8). */
  async function pairingCode(phone, showNotification) {
    const link = mod('WAWebAltDeviceLinkingApi');
    link.setPairingType('ALT_DEVICE_LINKING');
    await link.initializeAltDeviceLinking();
    return String(await link.startAltLinkingFlow(phone, showNotification));
  }

  /** True once WhatsApp Web announced itself (anchors §8 item 4); modules may still be missing. */
  function ready() {
    return !!(window.Debug && window.Debug.VERSION) && typeof window.require === 'function';
  }

  // Frozen and not replaceable: the worker's calls must reach these functions, not a page's.
  Object.defineProperty(window, '__zapvisor', { enumerable: false, configurable: false, writable: false,
    value: Object.freeze({
      ready, missing, install, qr, me, sendText, pairingCode,
      version: () => String(window.Debug.VERSION),
      // Next turn: the call must return before the page starts leaving (post_logout=1).
      logout: () => { setTimeout(() => mod('WAWebSocketModel').Socket.logout(), 0); return true; },
      takeover: () => { mod('WAWebSocketModel').Socket.takeover(); return true; },
      refreshQR: () => { mod('WAWebCmd').Cmd.refreshQR(); return true; },
    }) });
})();
