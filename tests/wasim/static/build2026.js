/*
 * wasim: the 2026 build of the fake WhatsApp Web page (Debug.VERSION 2.3000.1046379654 by default).
 *
 * What differs from the 2024 build (research/whatsapp-anchors.md §10; facts cited inline):
 * - Modules register gradually: window.require exists from the start and throws
 *   'Requiring unknown module "NAME"' for anything not registered yet; the boot modules come
 *   with Debug.VERSION, the ones used past login `late_modules_ms` later (wa-js
 *   src/loader/index.ts waitForMetaModulesSettle, #3481, counts require('__debug').modulesMap;
 *   wwebjs PR #5738). `missing` names modules or members that never register.
 * - WAWebMsgKey has no `_serialized`: the key string is cached in a minified field and returned
 *   by toString() ("return this.$1"), from 2.3000.1042401057 (wa-js src/whatsapp/misc/MsgKey.ts,
 *   #3484 dd00bf71, #3488 a0abd24b). newId() resolves a promise (wa-js
 *   src/whatsapp/functions/randomId.ts: "Promise for @whatsapp >= 2.2321.4").
 * - Msg.serialize() hands out its attribute values as they are: ids stay MsgKey instances.
 * - LIDs and the chat's addressing mode: static/lid.js.
 * - WAWebUserPrefsMultiDevice.getADVSecretKey() is synchronous (wwebjs 3e810b69, src/Client.js);
 *   WAWebLinkDeviceEvents.WAWebLinkDeviceEvents emits 'link_device_events:refresh_alt_linking_code'
 *   when a pairing code's lifetime ends (wa-js src/whatsapp/misc/LinkDeviceEvents.ts and
 *   src/conn/functions/linkDeviceCodeLifecycle.ts, ec3cb1bb, listen for it); the page never
 *   asks for a new code by itself.
 */
(function () {
  'use strict';
  const M = window.__wasimModels, L = window.__wasimLid;

  /** An outgoing message id: '3EB0' + 18 hex digits, as WhatsApp Web 2026 ids look
   * (e.g. 3EB089068216561CDEDD91 in oxidezap/whatsapp-rust #941). */
  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(9));
    return '3EB0' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  }

  /** WAWebMsgKey, 2026 shape: fromMe, remote, id, participant, and the string in `$1`. */
  class MsgKey {
    constructor(obj) {
      if (obj === null || obj === undefined) throw new Error('MsgKey error: obj is null/undefined');
      let fromMe, remote;
      if (obj.remote !== undefined) {
        fromMe = !!obj.fromMe;
        remote = M.toWid(obj.remote);
      } else {
        fromMe = obj.selfDir === 'out';
        remote = M.toWid(fromMe ? obj.to : obj.from);
      }
      if (!obj.id || !remote) throw new Error('MsgKey error: id and remote are required');
      this.fromMe = fromMe;
      this.remote = remote;
      this.id = String(obj.id);
      this.participant = obj.participant ? M.toWid(obj.participant) : undefined;
      const parts = [String(fromMe), remote.toString(), this.id];
      if (this.participant) parts.push(this.participant.toString());
      this.$1 = parts.join('_');
    }
    toString() { return this.$1; }
    clone() { return new MsgKey({ fromMe: this.fromMe, remote: this.remote, id: this.id, participant: this.participant }); }
    equals(other) { return !!other && String(other) === this.$1; }
    static newId() { return Promise.resolve(randomId()); }
    static fromString(s) {
      const [fromMe, remote, id, participant] = String(s).split('_');
      return new MsgKey({ fromMe: fromMe === 'true', remote, id, participant });
    }
  }

  /** Message model of the 2026 build: serialize() keeps ids as MsgKey/Wid instances. */
  class Msg extends M.Msg {
    serialize() { return Object.assign({}, this); }
  }

  /** The modules used past login: they register `late_modules_ms` after Debug.VERSION. */
  const LATE = ['WAWebCollections', 'WAWebSendMsgChatAction', 'WAWebFindChatAction', 'WAWebApiContact',
    'WAWebQueryExistsJob', 'WAWebMsgKey', 'WAWebUserPrefsMeUser', 'WAWebMsgReply', 'WAWebSendReactionMsgAction',
    'WAWebAddonReactionTableMode', 'WAWebMsgActionCapability', 'WAWebUpdateUnreadChatAction',
    'WAWebChatStateBridge', 'WAWebChatLoadMessages', 'WAWebContactProfilePicThumbBridge', 'WAWebLidMigrationUtils',
    'WAWebMediaOpaqueData', 'WAWebPrepRawMedia', 'WAWebMediaStorage', 'WAWebMmsMediaTypes', 'WAWebMediaMmsV4Upload',
    'WAWebDownloadManager'];

  /** WhatsApp's module registry: require() throws for what is not (yet) registered. */
  function registry() {
    const modulesMap = {};
    function define(name, exports) { modulesMap[name] = { factory: () => exports, exports }; }
    function require(name) {
      if (!Object.prototype.hasOwnProperty.call(modulesMap, name)) {
        throw new Error('Requiring unknown module "' + name + '"');
      }
      return modulesMap[name].exports;
    }
    define('__debug', { modulesMap });
    return { define, require, modulesMap };
  }

  /** Replace and add the 2026 modules in W.modules (W from __wasimModules.build). */
  function extend(W, core) {
    const modules = W.modules;
    function addAndSendMsgToChat(chat, attrs) {
      const me = core.me();
      if (!me) throw new Error('not logged in');
      const id = attrs.id instanceof MsgKey ? attrs.id : new MsgKey(attrs.id);
      const msg = new Msg(Object.assign({ type: 'chat', ack: 0, isNewMsg: true, local: true,
        self: 'out', t: Math.floor(Date.now() / 1000) }, attrs, {
        id, from: M.toWid(attrs.from || L.ourId(core, chat)), to: M.toWid(attrs.to || chat.id) }));
      const verdict = L.verdict(core, chat, msg);
      chat.msgs.add(msg);
      W.Msg.add(msg);
      chat.set('t', msg.t);
      const sendPromise = core.send(chat, msg, verdict).then(() => ({ messageSendResult: 'OK' }));
      return [Promise.resolve(msg), sendPromise];
    }
    const linkEvents = new M.Emitter();
    linkEvents.triggerRefreshAltLinkingCode = () => linkEvents.trigger('link_device_events:refresh_alt_linking_code');
    W.linkEvents = linkEvents;
    const widFactory = Object.assign({}, modules.WAWebWidFactory, {
      asUserWidOrThrow: (wid) => {
        const w = M.toWid(wid);
        if (!w || !w.isUser()) throw new Error('asUserWidOrThrow: not a user wid: ' + wid);
        return w;
      },
    });
    Object.assign(modules, L.build(core, W), {
      WAWebMsgKey: MsgKey,
      WAWebSendMsgChatAction: { addAndSendMsgToChat },
      WAWebWidFactory: widFactory,
      WAWebUserPrefsMultiDevice: { getADVSecretKey: () => core.keys().adv },
      WAWebLinkDeviceEvents: { WAWebLinkDeviceEvents: linkEvents },
    });
  }

  /**
   * Register W.modules in `reg`: the boot modules now, LATE ones after `lateMs`
   * (0: now). `modules` has already lost what the config declares missing.
   */
  function register(reg, modules, lateMs) {
    for (const [name, mod] of Object.entries(modules)) if (!LATE.includes(name)) reg.define(name, mod);
    const registerLate = () => {
      for (const name of LATE) if (Object.prototype.hasOwnProperty.call(modules, name)) reg.define(name, modules[name]);
    };
    if (lateMs > 0) setTimeout(registerLate, lateMs); else registerLate();
  }

  window.__wasim2026 = { MsgKey, Msg, LATE, registry, extend, register, randomId };
})();
