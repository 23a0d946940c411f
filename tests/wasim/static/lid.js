/*
 * wasim (2026 build): LIDs on the fake WhatsApp Web page.
 *
 * Public facts modelled (research/whatsapp-anchors.md §10.2-10.4):
 * - The page keeps a LID <-> phone-number table. WAWebApiContact.getCurrentLid(wid) gives the
 *   LID of a phone number (null when the page never learned it) and getPhoneNumber(lidWid) the
 *   reverse; WAWebQueryExistsJob.queryWidExists(wid) asks the server and learns the LID, or
 *   resolves null for a number that is not on WhatsApp (wwebjs src/util/Injected/Utils.js
 *   enforceLidAndPnRetrieval; src/Client.js getNumberId: "!result || result.wid === undefined").
 * - WAWebFindChatAction.findOrCreateLatestChat(wid) rejects with Error('No LID for user') for a
 *   phone number whose LID is unknown (wwebjs issue "Error: No LID for user", WA 2.3000.1027526765:
 *   thrown by toUserLidOrThrow inside findOrCreateLatestChat). One-to-one chats are LID chats.
 * - The outgoing `from` follows the chat's addressing, as WhatsApp's own
 *   WAWebMsgDataUtils.genOutgoingMsgData does (wa-js 9cd87e85, src/chat/functions/
 *   generateMessageID.ts and prepareRawMessage.ts; wwebjs Utils.js sendMessage): our LID in
 *   groups with groupMetadata.isLidAddressingMode and in @lid chats, our phone number in @c.us
 *   chats and phone-number groups; in groups the key's participant is `from`. A message with
 *   another `from` reaches nobody (rmyndharis/OpenWA #199; canove/whaileys #99).
 */
(function () {
  'use strict';
  const M = window.__wasimModels;
  const KEY = 'wasim.lids';
  const userOf = (id) => String(id).split('@')[0];

  /** The page's LID table, kept across reloads (WhatsApp keeps it in IndexedDB; setup.js store). */
  class LidTable {
    constructor() {
      this.store = window.__wasimSetup.store;
      this.data = this.store.get(KEY) || { lidOf: {}, phoneOf: {} };
    }
    learn(phone, lid) {
      if (!phone || !lid) return;
      this.data.lidOf[userOf(phone)] = userOf(lid);
      this.data.phoneOf[userOf(lid)] = userOf(phone);
      this.store.set(KEY, this.data);
    }
    lidOf(wid) { const u = this.data.lidOf[wid.user]; return u ? new M.Wid(u + '@lid') : null; }
    phoneOf(wid) { const u = this.data.phoneOf[wid.user]; return u ? new M.Wid(u + '@c.us') : null; }
    clear() { this.data = { lidOf: {}, phoneOf: {} }; this.store.remove(KEY); }
  }

  /** Our own id in `chat`'s addressing mode: what `from` (and `to` of incoming) must be. */
  function ourId(core, chat) {
    if (chat.id.isGroup()) {
      return chat.groupMetadata && chat.groupMetadata.isLidAddressingMode ? core.meLid() : core.me();
    }
    return chat.id.isLid() ? core.meLid() : core.me();
  }

  /** Whether WhatsApp would deliver `msg` in `chat`: {delivered, reason?}. */
  function verdict(core, chat, msg) {
    const from = String(msg.from), expected = String(ourId(core, chat));
    if (from !== expected) {
      return { delivered: false,
        reason: 'from ' + from + ' does not match the chat addressing (expected ' + expected + ')' };
    }
    if (chat.id.isGroup() && String(msg.id.participant || '') !== from) {
      return { delivered: false, reason: 'a group message key needs participant = from (' + from + ')' };
    }
    return { delivered: true };
  }

  function setGroupMeta(chat, isLid) {
    chat.groupMetadata = { id: chat.id, isLidAddressingMode: !!isLid };
  }

  /** WAWebApiContact, WAWebQueryExistsJob and WAWebFindChatAction over `core.lids`. */
  function build(core, W) {
    const lids = core.lids;
    function getCurrentLid(wid) {
      const w = M.toWid(wid);
      if (!w) return null;
      return w.isLid() ? w : lids.lidOf(w);
    }
    function getPhoneNumber(wid) {
      const w = M.toWid(wid);
      if (!w) return null;
      return w.isLid() ? lids.phoneOf(w) : w;
    }
    function toUserLidOrThrow(wid) {
      const lid = getCurrentLid(wid);
      if (!lid) throw new Error('No LID for user');
      return lid;
    }
    async function queryWidExists(wid) {
      const w = M.toWid(wid);
      const r = await core.rpc('query_exists', { id: String(w) });
      if (!r.exists) return null;
      lids.learn(r.phone, r.lid);
      return { wid: w.isLid() ? w : new M.Wid(r.phone + '@c.us'), biz: false };
    }
    async function findOrCreateLatestChat(wid) {
      let id = M.toWid(wid);
      if (id.isGroup()) {
        if (W.Chat.get(id)) return { chat: W.Chat.get(id), created: false };
        const info = await core.rpc('group_info', { id: String(id) });
        const found = W.findOrCreateChat(id);
        if (!found.chat.groupMetadata) setGroupMeta(found.chat, info.is_lid);
        return found;
      }
      if (id.server === 'c.us') id = toUserLidOrThrow(id);
      return W.findOrCreateChat(id);
    }
    return {
      WAWebApiContact: { getCurrentLid, getPhoneNumber },
      WAWebQueryExistsJob: { queryWidExists },
      WAWebFindChatAction: { findOrCreateLatestChat },
    };
  }

  window.__wasimLid = { LidTable, build, ourId, verdict, setGroupMeta };
})();
