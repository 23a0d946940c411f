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
    // The messaging features, checked when used (not at login): a page lacking one still logs
    // in and sends texts, and the operation names what is missing. Names: wwebjs
    // src/util/Injected/Utils.js (processMediaData, sendSeen, sendChatState*) and src/Client.js
    // (sendReaction, getNumberId, getProfilePicUrl); src/structures/Message.js (downloadMedia,
    // delete), src/structures/Chat.js (fetchMessages); wa-js src/whatsapp/** for the same.
    media: ['WAWebMediaOpaqueData.createFromData', 'WAWebPrepRawMedia.prepRawMedia',
      'WAWebMediaStorage.getOrCreateMediaObject', 'WAWebMmsMediaTypes.msgToMediaType',
      'WAWebMediaMmsV4Upload.uploadMedia'],
    download: ['WAWebDownloadManager.downloadManager'],
    react: ['WAWebSendReactionMsgAction.sendReactionToMsg'],
    revoke: ['WAWebCmd.Cmd.sendRevokeMsgs', 'WAWebMsgActionCapability.canSenderRevokeMsg'],
    read: ['WAWebUpdateUnreadChatAction.sendSeen'],
    presence: ['WAWebChatStateBridge.sendChatStateComposing', 'WAWebChatStateBridge.sendChatStateRecording',
      'WAWebChatStateBridge.sendChatStatePaused'],
    exists: ['WAWebQueryExistsJob.queryWidExists'],
    history: ['WAWebChatLoadMessages.loadEarlierMsgs'],
    contacts: ['WAWebCollections.Contact'],
    picture: ['WAWebContactProfilePicThumbBridge.requestProfilePicFromServer'],
    groups: ['WAWebCollections.GroupMetadata'],
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

  /** Whether `wid` is us, by phone number or by LID. */
  function isMe(wid) {
    if (!wid) return false;
    const users = mod('WAWebUserPrefsMeUser');
    return [users.getMaybeMePnUser(), fn('WAWebUserPrefsMeUser.getMaybeMeLidUser') ? users.getMaybeMeLidUser() : null]
      .some((me) => me && ser(me) === ser(wid));
  }

  /** The id of the message `m` replies to, or null (wa-js src/chat/functions/getQuotedMsgKey.ts:
   * quotedStanzaID, quotedRemoteJid or the chat, fromMe when we wrote it, participant in groups). */
  function quotedId(m) {
    if (!m.quotedStanzaID) return null;
    const remote = m.quotedRemoteJid || m.id.remote;
    const group = String(remote).endsWith('@g.us') || String(remote) === 'status@broadcast';
    const key = new (mod('WAWebMsgKey'))({ id: m.quotedStanzaID, fromMe: isMe(m.quotedParticipant),
      remote, participant: group ? m.quotedParticipant : undefined });
    return ser(key);
  }

  /** A message model as plain JSON (the worker's `message` event payload). */
  function message(m) {
    const chat = ser(m.id.remote);
    const media = MEDIA.has(m.type) || !!m.directPath;
    const sender = m.author || (m.id.fromMe ? null : m.from);
    return {
      quoted_id: quotedId(m), mentions: (m.mentionedJidList || []).map(ser),
      caption: media ? m.caption || null : null,
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

  /** A group notification (type gp2, wwebjs src/Client.js onAddMessageEvent): who joined or left. */
  function groupChange(m) {
    const ids = (m.recipients || []).map((w) => mod('WAWebWidFactory').createWid(ser(w)));
    return { subtype: m.subtype, group_id: ser(m.id.remote), participants: ids.map(ser),
      phones: ids.map(phoneOf), author: ser(m.author) || null, timestamp: m.t };
  }

  /** Reactions reach the page's reaction table (wwebjs src/Client.js wraps
   * WAWebAddonReactionTableMode.reactionTableMode.bulkUpsert; wa-js registerReactionsEvent.ts
   * wraps createOrUpdateReactions): we wrap it the same way, and pass every call on. */
  function listenReactions() {
    const table = lookup('WAWebAddonReactionTableMode.reactionTableMode');
    if (!table || typeof table.bulkUpsert !== 'function') return;
    const original = table.bulkUpsert;
    table.bulkUpsert = function (rows, ...rest) {
      try {
        for (const r of rows || []) {
          const sender = r.author || r.from;
          post('reaction', { id: ser(r.id), message_id: ser(r.reactionParentKey), emoji: r.reactionText || '',
            sender_id: ser(sender), sender_phone: phoneOf(sender ? mod('WAWebWidFactory').createWid(ser(sender)) : null),
            timestamp: Math.floor((r.reactionTimestamp || 0) / 1000) });
        }
      } catch (e) { failed('reaction')(e); }
      return original.call(this, rows, ...rest);
    };
  }

  function listenChat() {
    const Msg = mod('WAWebCollections').Msg;
    listenReactions();
    // wwebjs src/Client.js: change:type to 'revoked' (message_revoke_everyone) and
    // change:body / change:caption (message_edit) on the message model itself.
    Msg.on('change:type', (m) => {
      if (m && m.type === 'revoked') {
        post('revoked', { id: ser(m.id), chat_id: ser(m.id.remote), from_me: !!m.id.fromMe, author: ser(m.author) || null });
      }
    });
    Msg.on('change:body change:caption', (m, now, before) => {
      if (!m || m.type === 'revoked' || m.type === 'ciphertext' || typeof now !== 'string') return;
      post('edited', { id: ser(m.id), chat_id: ser(m.id.remote), body: now,
        previous_body: typeof before === 'string' ? before : null });
    });
    Msg.on('add', (m) => {
      if (!m || !m.isNewMsg || ours.delete(ser(m.id))) return;
      if (m.type === 'gp2') { post('group', groupChange(m)); return; }
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

  /** The message `id` (a string), from the page's collection or WhatsApp's store. */
  async function findMsg(id) {
    const Msg = mod('WAWebCollections').Msg;
    let m = Msg.get(id);
    if (!m && typeof Msg.getMessagesById === 'function') {
      const found = await Msg.getMessagesById([id]);
      m = found && found.messages && found.messages[0];
    }
    if (!m) throw new Refused('NotFound', `no message ${id} in this session`);
    return m;
  }

  /** The fields that make a message a reply to `id` (wwebjs Utils.js sendMessage:
   * WAWebMsgReply.canReplyMsg, then quotedMessage.msgContextInfo(chat)). */
  async function quoteFields(chat, id) {
    const quoted = await findMsg(id).catch(() => { throw new Refused('NotFound', `no message ${id} to reply to`); });
    const reply = fn('WAWebMsgReply.canReplyMsg');
    const can = reply ? reply(typeof quoted.unsafe === 'function' ? quoted.unsafe() : quoted)
      : typeof quoted.canReply !== 'function' || quoted.canReply();
    if (!can) throw new Refused('Conflict', `message ${id} cannot be replied to`);
    return quoted.msgContextInfo(chat);
  }

  /** The key of our message `id` in `chat` (wa-js generateMessageID: in groups the participant
   * is `from`). */
  function keyFor(chat, id) {
    const from = meIn(chat);
    return new (mod('WAWebMsgKey'))({ from, to: chat.id, id, participant: chat.id.server === 'g.us' ? from : undefined,
      selfDir: 'out' });
  }

  const sentInfo = (m, chat) => ({ id: ser(m.id), to: ser(chat.id), ack: m.ack, timestamp: m.t });
  const sending = new Map();  // key -> its send in progress

  /** Send a message of `attrs` (text or media fields) to `to` (anchors §8 item 13); resolves
   * once the page handed it to the server, or with `{error: {type, message}}` when WhatsApp
   * refuses the recipient or an argument. `opts`: {reply_to, mentions, msg_id}. Under `msg_id`
   * (made by newMessageId) a message the page holds is answered (`already_sent`), never sent
   * again; a send of that id in progress is waited for first. */
  async function sendMsg(to, attrs, opts, prepare) {
    const o = opts || {};
    let chat, key;
    try {
      chat = await chatFor(to);
      key = keyFor(chat, o.msg_id || await mod('WAWebMsgKey').newId());
    } catch (e) {
      if (e instanceof Refused) return { error: { type: e.code, message: e.message } };
      throw e;
    }
    const id = ser(key);
    while (sending.has(id)) await sending.get(id).catch(() => undefined);
    const known = o.msg_id && mod('WAWebCollections').Msg.get(key);
    if (known) return Object.assign(sentInfo(known, chat), { already_sent: true });
    const done = addAndSend(chat, key, attrs, o, prepare);
    sending.set(id, done);
    try { return await done; } finally { if (sending.get(id) === done) sending.delete(id); }
  }

  /** sendMsg's second half: the reply's fields, the prepared media, then WhatsApp's send. */
  async function addAndSend(chat, key, attrs, o, prepare) {
    let extra = {};
    try {
      if (o.reply_to) extra = await quoteFields(chat, o.reply_to);
      if (prepare) attrs = Object.assign({}, attrs, await prepare());
    } catch (e) {
      if (e instanceof Refused) return { error: { type: e.code, message: e.message } };
      throw e;
    }
    const id = ser(key), from = meIn(chat);
    const mentions = (o.mentions || []).map((w) => mod('WAWebWidFactory').createWid(w));
    ours.add(id);
    const sent = mod('WAWebSendMsgChatAction').addAndSendMsgToChat(chat, Object.assign({
      id: key, ack: 0, from, to: chat.id, local: true, self: 'out',
      t: Math.floor(Date.now() / 1000), isNewMsg: true, type: 'chat' }, attrs, extra,
    mentions.length ? { mentionedJidList: mentions } : {}, { id: key, from, to: chat.id }));
    await Promise.all(Array.isArray(sent) ? sent : [sent]);
    const msg = mod('WAWebCollections').Msg.get(key);
    return msg ? sentInfo(msg, chat) : { id, to: ser(chat.id), ack: 0, timestamp: Math.floor(Date.now() / 1000) };
  }

  /** A new message id from WhatsApp's own generator (the one sendMsg uses), for a caller that
   * stores it before the send (wa-js: generateMessageID, then prepareRawMessage's messageId). */
  const newMessageId = async () => ({ msg_id: String(await mod('WAWebMsgKey').newId()) });

  const FIND_BATCHES = 5;  // pages of history findSent loads at most (each one loadEarlierMsgs)

  /** Whether our message `msgId` (a stanza id) is in the chat with `to`: among the chat's loaded
   * messages, in WhatsApp's store (Msg.getMessagesById), then FIND_BATCHES pages back (wwebjs
   * Chat.js fetchMessages: loadEarlierMsgs). A reloaded page holds little; the history has it. */
  async function findSent(to, msgId) {
    let chat;
    try { chat = await chatFor(to); } catch (e) {
      if (e instanceof Refused && e.code === 'NotOnWhatsApp') return { found: false };
      throw e;
    }
    const Msg = mod('WAWebCollections').Msg, key = keyFor(chat, msgId);
    const mine = (m) => !!m && !!m.id && !!m.id.fromMe && m.id.id === msgId;
    let m = Msg.get(key) || chat.msgs.getModelsArray().find(mine);
    if (!mine(m) && typeof Msg.getMessagesById === 'function') {
      const found = await Msg.getMessagesById([ser(key)]).catch(() => null);  // only a shortcut
      m = found && found.messages && found.messages[0];
    }
    for (let i = 0; i < FIND_BATCHES && !mine(m); i++) {
      needs('history');
      const more = await mod('WAWebChatLoadMessages').loadEarlierMsgs({ chat });
      if (!more || !more.length) break;
      m = more.find(mine);
    }
    return mine(m) ? Object.assign({ found: true }, sentInfo(m, chat)) : { found: false };
  }

  const sendText = (to, body, opts) => sendMsg(to, { body }, opts);

  /** Throws Refused naming what of `feature`'s modules the page lacks. */
  function needs(feature) {
    const gone = missing(feature);
    if (gone.length) throw new Refused('Unavailable', `WhatsApp Web ${window.Debug.VERSION} lacks ${gone.join(', ')}`);
  }

  // Media in transit between the worker and the page, in chunks (a CDP call carries one).
  const staged = new Map();  // upload id -> [Uint8Array]
  const fetched = new Map();  // download handle -> Uint8Array
  function fromB64(text) {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function toB64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  function mediaPut(upload, b64) {
    if (!staged.has(upload)) staged.set(upload, []);
    staged.get(upload).push(fromB64(b64));
    return true;
  }
  function mediaDrop(handle) { staged.delete(handle); fetched.delete(handle); return true; }

  /** The staged file `spec.upload` prepared and uploaded as WhatsApp Web does it (wwebjs
   * Utils.js processMediaData: OpaqueData.createFromData, prepRawMedia(...).waitForPrep(),
   * getOrCreateMediaObject, msgToMediaType, WAWebMediaMmsV4Upload.uploadMedia); the fields of
   * the media message. */
  async function prepareMedia(spec) {
    needs('media');
    const parts = staged.get(spec.upload);
    staged.delete(spec.upload);
    if (!parts) throw new Refused('InvalidRequest', `no staged upload ${spec.upload}`);
    const file = new File(parts, spec.filename || 'file', { type: spec.mimetype });
    const OpaqueData = mod('WAWebMediaOpaqueData');
    const opaque = await OpaqueData.createFromData(file, spec.mimetype);
    const prep = mod('WAWebPrepRawMedia').prepRawMedia(opaque, { asDocument: spec.kind === 'document',
      isPtt: spec.kind === 'ptt', asSticker: spec.kind === 'sticker', asGif: false });
    const data = await prep.waitForPrep();
    const object = mod('WAWebMediaStorage').getOrCreateMediaObject(data.filehash);
    const mediaType = mod('WAWebMmsMediaTypes').msgToMediaType({ type: data.type, isGif: data.isGif });
    if (!(data.mediaBlob instanceof OpaqueData)) data.mediaBlob = await OpaqueData.createFromData(data.mediaBlob, data.mediaBlob.type);
    data.renderableUrl = data.mediaBlob.url();
    object.consolidate(data.toJSON());
    const uploaded = await mod('WAWebMediaMmsV4Upload').uploadMedia({ mimetype: data.mimetype, mediaObject: object, mediaType });
    const entry = uploaded && uploaded.mediaEntry;
    if (!entry) throw new Error('upload failed: media entry was not created');
    data.set({ clientUrl: entry.mmsUrl, deprecatedMms3Url: entry.deprecatedMms3Url, directPath: entry.directPath,
      mediaKey: entry.mediaKey, mediaKeyTimestamp: entry.mediaKeyTimestamp, filehash: object.filehash,
      encFilehash: entry.encFilehash, uploadhash: entry.uploadHash, size: object.size });
    const fields = Object.assign({}, data.toJSON(), { body: data.preview, caption: spec.caption || undefined });
    if (spec.kind === 'document') fields.filename = spec.filename;
    delete fields.mediaBlob;
    return fields;
  }

  // finally: a send answered without preparing (already sent, refused) leaves nothing staged.
  const sendMedia = (to, spec, opts) => sendMsg(to, {}, opts, () => prepareMedia(spec)).finally(() => mediaDrop(spec.upload));

  /** Decrypt message `id`'s media (wwebjs Message.js downloadMedia:
   * WAWebDownloadManager.downloadManager.downloadAndMaybeDecrypt) and keep it for mediaRead. */
  async function mediaFetch(id, maxBytes) {
    const m = await findMsg(id);
    if (!m.directPath) throw new Refused('InvalidRequest', `message ${id} has no media`);
    if (m.size > maxBytes) throw new Refused('PayloadTooLarge', `the media of ${id} has ${m.size} bytes; at most ${maxBytes} are allowed`);
    needs('download');
    if (m.mediaData && m.mediaData.mediaStage === 'REUPLOADING') throw new Refused('Unavailable', 'the phone is uploading this media again; try later');
    if (m.mediaData && m.mediaData.mediaStage !== 'RESOLVED' && typeof m.downloadMedia === 'function') {
      await m.downloadMedia({ downloadEvenIfExpensive: true, rmrReason: 1 });
    }
    const qpl = { addAnnotations() { return this; }, addPoint() { return this; } };
    const buffer = await mod('WAWebDownloadManager').downloadManager.downloadAndMaybeDecrypt({
      directPath: m.directPath, encFilehash: m.encFilehash, filehash: m.filehash, mediaKey: m.mediaKey,
      mediaKeyTimestamp: m.mediaKeyTimestamp, type: m.type, signal: new AbortController().signal, downloadQpl: qpl });
    const bytes = new Uint8Array(buffer);
    if (bytes.length > maxBytes) throw new Refused('PayloadTooLarge', `the media of ${id} has ${bytes.length} bytes; at most ${maxBytes} are allowed`);
    const handle = String(Math.random()).slice(2) + Date.now();
    fetched.set(handle, bytes);
    return { handle, size: bytes.length, mimetype: m.mimetype || null, filename: m.filename || null };
  }
  const mediaRead = (handle, offset, length) => toB64(fetched.get(handle).subarray(offset, offset + length));

  /** An existing chat with `to` (a phone number's chat may be its LID chat, §10.4). */
  function existingChat(to) {
    const wid = mod('WAWebWidFactory').createWid(to);
    const Chat = mod('WAWebCollections').Chat;
    let chat = Chat.get(wid);
    if (!chat && wid.server === 'c.us' && fn('WAWebApiContact.getCurrentLid')) {
      const lid = mod('WAWebApiContact').getCurrentLid(wid);
      chat = lid ? Chat.get(lid) : null;
    }
    if (!chat) throw new Refused('NotFound', `no chat with ${to} in this session`);
    return chat;
  }

  /** Run `op` (async), turning a Refused into `{error}` like sendMsg. */
  const answer = (op) => async (...args) => {
    try { return await op(...args); } catch (e) {
      if (e instanceof Refused) return { error: { type: e.code, message: e.message } };
      throw e;
    }
  };

  /** React to message `id` with `emoji` ('' removes ours): wwebjs Client.js sendReaction. */
  async function react(id, emoji) {
    needs('react');
    await mod('WAWebSendReactionMsgAction').sendReactionToMsg(await findMsg(id), emoji);
    return { id };
  }

  /** Delete our own message `id` for everyone (wwebjs Message.js delete(true): Cmd.sendRevokeMsgs
   * when WAWebMsgActionCapability.canSenderRevokeMsg allows it). */
  async function revoke(id) {
    needs('revoke');
    const m = await findMsg(id);
    if (!m.id.fromMe) throw new Refused('Conflict', `message ${id} is not ours: only our own messages can be revoked`);
    if (m.type === 'revoked') throw new Refused('Conflict', `message ${id} is already revoked`);
    if (!mod('WAWebMsgActionCapability').canSenderRevokeMsg(m)) {
      throw new Refused('Conflict', `WhatsApp no longer lets us revoke message ${id} (too old)`);
    }
    const chat = mod('WAWebCollections').Chat.get(m.id.remote);
    await mod('WAWebCmd').Cmd.sendRevokeMsgs(chat, { list: [m], type: 'message' }, { clearMedia: true });
    return { id };
  }

  /** Mark a chat read (wwebjs Utils.js sendSeen; wa-js markIsRead: sendSeen({chat, ...})). */
  async function markRead(to) {
    needs('read');
    const chat = existingChat(to);
    const unread = chat.unreadCount || 0;
    await mod('WAWebUpdateUnreadChatAction').sendSeen({ chat, threadId: undefined, afterAvailable: false });
    return { chat: ser(chat.id), unread };
  }

  /** Show typing, recording or nothing in a chat (wwebjs Utils.js sendChatState). */
  async function presence(to, state) {
    needs('presence');
    const chat = await chatFor(to);
    const bridge = mod('WAWebChatStateBridge');
    const send = { typing: 'sendChatStateComposing', recording: 'sendChatStateRecording', paused: 'sendChatStatePaused' }[state];
    if (!send) throw new Refused('InvalidRequest', `unknown presence ${state}`);
    await bridge[send](chat.id);
    return { chat: ser(chat.id), state };
  }

  /** Whether a number is on WhatsApp, with its chat id and LID (wwebjs getNumberId; §10.3). */
  async function checkNumber(phone) {
    needs('exists');
    const wid = mod('WAWebWidFactory').createWid(phone + '@c.us');
    const found = await mod('WAWebQueryExistsJob').queryWidExists(wid);
    if (!found || !found.wid) return { phone, on_whatsapp: false, chat_id: null, lid: null };
    const lid = fn('WAWebApiContact.getCurrentLid') ? mod('WAWebApiContact').getCurrentLid(wid) : null;
    return { phone, on_whatsapp: true, chat_id: ser(found.wid), lid: ser(lid) };
  }

  function chatInfo(c) {
    const meta = c.groupMetadata;
    return { id: ser(c.id), name: c.name || (meta && meta.subject) || c.formattedTitle || null, kind: kindOf(ser(c.id)),
      unread: c.unreadCount || 0, timestamp: c.t || null, archived: !!c.archive };
  }

  /** The chats, latest first (wwebjs Utils.js getChats: WAWebCollections.Chat.getModelsArray). */
  function chats(limit) {
    const all = mod('WAWebCollections').Chat.getModelsArray().map(chatInfo);
    all.sort((a, b) => (b.timestamp || 0) - (a.timestamp || 0));
    return { chats: all.slice(0, limit) };
  }

  /** Up to `limit` messages of a chat before message `before` (or the latest), oldest first;
   * earlier ones are loaded as needed (wwebjs Chat.js fetchMessages: loadEarlierMsgs). */
  async function chatMessages(to, limit, before) {
    const chat = existingChat(to);
    let exhausted = false;
    const loaded = () => chat.msgs.getModelsArray().filter((m) => !m.isNotification && m.type !== 'gp2')
      .map((m, i) => [m, i]).sort((a, b) => (a[0].t - b[0].t) || (a[1] - b[1])).map((p) => p[0]);
    const place = (list) => (before ? list.findIndex((m) => ser(m.id) === before) : list.length);
    let list = loaded(), at = place(list);
    while ((at < 0 || at < limit) && !exhausted) {
      needs('history');
      const more = await mod('WAWebChatLoadMessages').loadEarlierMsgs({ chat });
      exhausted = !more || !more.length;
      list = loaded();
      at = place(list);
    }
    if (at < 0) throw new Refused('NotFound', `no message ${before} in chat ${ser(chat.id)}`);
    const start = Math.max(0, at - limit);
    return { messages: list.slice(start, at).map(message), more: start > 0 || !exhausted };
  }

  /** The address book (wwebjs Utils.js getContacts: WAWebCollections.Contact). */
  function contacts() {
    needs('contacts');
    const lidOf = fn('WAWebApiContact.getCurrentLid');
    const out = [];
    for (const c of mod('WAWebCollections').Contact.getModelsArray()) {
      if (!c.id || (c.id.server !== 'c.us' && c.id.server !== 'lid')) continue;
      const lid = c.id.server === 'lid' ? c.id : (lidOf ? lidOf(c.id) : null);
      out.push({ id: ser(c.id), name: c.name || null, pushname: c.pushname || null, phone: phoneOf(c.id), lid: ser(lid) });
    }
    return { contacts: out };
  }

  /** A contact's or group's picture URL (wwebjs getProfilePicUrl: requestProfilePicFromServer). */
  async function profilePicture(id) {
    needs('picture');
    const wid = mod('WAWebWidFactory').createWid(id);
    try {
      const pic = await mod('WAWebContactProfilePicThumbBridge').requestProfilePicFromServer(wid);
      return { id, url: (pic && pic.eurl) || null };
    } catch (e) {
      if (e && e.name === 'ServerStatusCodeError') return { id, url: null };
      throw e;
    }
  }

  /** A participant's phone number: WAWebLidMigrationUtils.toPn (wwebjs getChatModel), or §10.3. */
  function participantPhone(wid) {
    const toPn = fn('WAWebLidMigrationUtils.toPn');
    const pn = toPn ? toPn(wid) : null;
    return pn ? String(pn.user || ser(pn).split('@')[0]) : phoneOf(wid);
  }

  function groups() {
    const all = mod('WAWebCollections').Chat.getModelsArray().filter((c) => c.id.server === 'g.us');
    return { groups: all.map((c) => Object.assign(chatInfo(c), {
      size: c.groupMetadata && c.groupMetadata.participants ? c.groupMetadata.participants.length : null })) };
  }

  /** One group's metadata and participants (WAWebCollections.GroupMetadata). */
  async function groupInfo(id) {
    needs('groups');
    const store = mod('WAWebCollections').GroupMetadata;
    const wid = mod('WAWebWidFactory').createWid(id);
    const meta = store.get(wid) || (typeof store.find === 'function' ? await store.find(wid).catch(() => null) : null);
    if (!meta) throw new Refused('NotFound', `no group ${id} in this session`);
    const members = meta.participants.getModelsArray ? meta.participants.getModelsArray() : meta.participants;
    return { id: ser(meta.id), name: meta.subject || null, owner: ser(meta.owner), created: meta.creation || null,
      description: meta.desc || null, lid_addressing: !!meta.isLidAddressingMode,
      participants: members.map((p) => ({ id: ser(p.id), phone: participantPhone(p.id),
        admin: p.isSuperAdmin ? 'superadmin' : (p.isAdmin ? 'admin' : null) })) };
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
      ready, missing, install, qr, me, pairingCode,
      sendText: answer(sendText), sendMedia: answer(sendMedia), mediaPut, mediaDrop, mediaRead,
      newMessageId: answer(newMessageId), findSent: answer(findSent),
      mediaFetch: answer(mediaFetch), react: answer(react), revoke: answer(revoke),
      markRead: answer(markRead), presence: answer(presence), checkNumber: answer(checkNumber),
      chats: answer(chats), chatMessages: answer(chatMessages), contacts: answer(contacts),
      profilePicture: answer(profilePicture), groups: answer(groups), groupInfo: answer(groupInfo),
      version: () => String(window.Debug.VERSION),
      // Next turn: the call must return before the page starts leaving (post_logout=1).
      logout: () => { setTimeout(() => mod('WAWebSocketModel').Socket.logout(), 0); return true; },
      takeover: () => { mod('WAWebSocketModel').Socket.takeover(); return true; },
      refreshQR: () => { mod('WAWebCmd').Cmd.refreshQR(); return true; },
    }) });
})();
