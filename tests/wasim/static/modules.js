/*
 * wasim: the `window.require(...)` module surface of the fake WhatsApp Web page.
 *
 * Module names and members are the ones whatsapp-web.js v1.34 uses on the real page
 * (research/whatsapp-anchors.md §8). Behaviour lives in page.js (`core`); this file only shapes it.
 */
(function () {
  'use strict';
  const M = window.__wasimModels;

  const WA_STATES = ['OPENING', 'PAIRING', 'UNPAIRED', 'UNPAIRED_IDLE', 'CONNECTED', 'CONFLICT',
    'TIMEOUT', 'TOS_BLOCK', 'SMB_TOS_BLOCK', 'PROXYBLOCK', 'DEPRECATED_VERSION', 'UNLAUNCHED'];

  function encodeB64(bytes) {
    const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    let s = '';
    for (const b of u8) s += String.fromCharCode(b);
    return btoa(s);
  }

  function decodeB64(text) {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  /**
   * Build every module around `core` (the page lifecycle in page.js).
   * Returns {modules, Socket, Conn, Cmd, Msg, Chat, Offline}.
   */
  function build(core) {
    const Socket = new M.Model({ state: 'UNLAUNCHED', hasSynced: false, stream: 'DISCONNECTED' });
    Socket.logout = () => core.logout('local');
    Socket.takeover = () => core.takeover();
    Socket.reconnect = () => core.reconnect();
    Socket.poke = () => undefined;

    const Conn = new M.Model({ ref: undefined, wid: undefined, pushname: undefined,
      platform: undefined, phone: undefined, isSMB: false });
    Conn.serialize = () => M.plain({ ref: Conn.ref, wid: Conn.wid, pushname: Conn.pushname,
      platform: Conn.platform, phone: Conn.phone, isSMB: Conn.isSMB });

    const Cmd = new M.Model({});
    Cmd.refreshQR = () => core.refreshQR();

    let offlineProgress = 0;
    const Offline = {
      getOfflineDeliveryProgress: () => offlineProgress,
      setProgress: (p) => { offlineProgress = p; },
    };

    const Msg = new M.Collection();
    const Chat = new M.Collection();

    const widFactory = {
      createWid: (id) => M.toWid(id),
      createUserWid: (user, server) => new M.Wid(String(user) + '@' + (server || 'c.us')),
      isWidlike: (id) => { try { M.toWid(id); return true; } catch (e) { return false; } },
    };

    function findOrCreateChat(wid) {
      const id = M.toWid(wid);
      let chat = Chat.get(id);
      let created = false;
      if (!chat) {
        chat = Chat.add(new M.Chat({ id, name: undefined, t: Math.floor(Date.now() / 1000), unreadCount: 0 }));
        created = true;
      }
      return { chat, created };
    }

    function addAndSendMsgToChat(chat, attrs) {
      const me = core.me();
      if (!me) throw new Error('not logged in');
      const id = attrs.id instanceof M.MsgKey ? attrs.id : new M.MsgKey(attrs.id);
      const msg = new M.Msg(Object.assign({ type: 'chat', ack: 0, isNewMsg: true, local: true,
        self: 'out', t: Math.floor(Date.now() / 1000) }, attrs, {
        id, from: M.toWid(attrs.from || me), to: M.toWid(attrs.to || chat.id) }));
      chat.msgs.add(msg);
      Msg.add(msg);
      chat.set('t', msg.t);
      const sendPromise = core.send(chat, msg).then(() => ({ messageSendResult: 'OK' }));
      return [Promise.resolve(msg), sendPromise];
    }

    const meUser = {
      getMaybeMePnUser: () => core.me(),
      getMaybeMeUser: () => core.me(),
      getMaybeMeLidUser: () => core.meLid(),
      getMeUser: () => { const me = core.me(); if (!me) throw new Error('no me user'); return me; },
      isMeAccount: (wid) => !!core.me() && core.me().equals(wid),
    };

    const browserInfo = {
      info: () => ({ name: 'Chrome', version: (navigator.userAgent.match(/Chrome\/([\d.]+)/) || [])[1] || '',
        os: 'Linux', ua: navigator.userAgent }),
    };

    const modules = {
      WAWebSocketModel: { Socket },
      WAWebConnModel: { Conn },
      WAWebCmd: { Cmd },
      WAWebOfflineHandler: { OfflineMessageHandler: Offline },
      WAWebAltDeviceLinkingApi: {
        setPairingType: (type) => { core.pairingType = type; },
        initializeAltDeviceLinking: () => Promise.resolve(),
        startAltLinkingFlow: (phone, showNotification) => core.requestPairingCode(phone, showNotification),
      },
      WABase64: { encodeB64, decodeB64 },
      WAWebCompanionRegClientUtils: { DEVICE_PLATFORM: core.platform },
      WAWebAdvSignatureApi: { getADVSecretKey: () => Promise.resolve(core.keys().adv) },
      WAWebUserPrefsInfoStore: {
        waNoiseInfo: { get: () => Promise.resolve({ staticKeyPair: { pubKey: core.keys().noise } }) },
      },
      WAWebSignalStoreApi: {
        waSignalStore: {
          getRegistrationInfo: () => Promise.resolve({
            registrationId: core.keys().registrationId,
            identityKeyPair: { pubKey: core.keys().identity },
          }),
        },
      },
      WAWebCollections: { Msg, Chat },
      WAWebWidFactory: widFactory,
      WAWebMsgKey: M.MsgKey,
      WAWebFindChatAction: {
        findOrCreateLatestChat: (wid) => Promise.resolve(findOrCreateChat(wid)),
      },
      WAWebSendMsgChatAction: { addAndSendMsgToChat },
      WAWebUserPrefsMeUser: meUser,
      WAWebMiscBrowserUtils: browserInfo,
    };
    return { modules, Socket, Conn, Cmd, Msg, Chat, Offline, findOrCreateChat };
  }

  /**
   * `modules` without what `missing` names: "Module" (never registers) or "Module.member"
   * (the module registers without that member), to model a build that removed something.
   */
  function withoutMissing(modules, missing) {
    const out = Object.assign({}, modules);
    for (const name of missing || []) {
      const dot = name.indexOf('.');
      if (dot < 0) { delete out[name]; continue; }
      const mod = name.slice(0, dot), member = name.slice(dot + 1);
      if (!(mod in out)) continue;
      if (typeof out[mod] === 'function') delete out[mod][member];  // a class: drop the static
      else { out[mod] = Object.assign({}, out[mod]); delete out[mod][member]; }
    }
    return out;
  }

  /** A `require` over `modules` that throws on unknown names, like WA's module system. */
  function makeRequire(modules) {
    return function require(name) {
      if (!Object.prototype.hasOwnProperty.call(modules, name)) {
        throw new Error('Requiring unknown module "' + name + '"');
      }
      return modules[name];
    };
  }

  window.__wasimModules = { build, makeRequire, withoutMissing, encodeB64, decodeB64, WA_STATES };
})();
