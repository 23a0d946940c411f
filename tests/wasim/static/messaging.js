/*
 * wasim: messaging beyond text on the fake WhatsApp Web page, both builds: replies, reactions,
 * read receipts, chat states, number checks, contacts, history, pictures, groups, revokes, edits.
 *
 * Module and function names as whatsapp-web.js (v1.34.7) and wa-js (4.6) use them on the real page:
 * - replies: WAWebMsgReply.canReplyMsg(msg.unsafe()), msg.msgContextInfo(chat) gives
 *   quotedMsg/quotedStanzaID/quotedParticipant/quotedRemoteJid (wwebjs Utils.js sendMessage;
 *   wa-js src/chat/functions/getQuotedMsgKey.ts reads those back); mentions in mentionedJidList.
 * - reactions: WAWebSendReactionMsgAction.sendReactionToMsg(msg, text) (wwebjs Client.js
 *   sendReaction; wa-js sendReactionToMsg.ts); incoming ones go through
 *   WAWebAddonReactionTableMode.reactionTableMode.bulkUpsert(rows) (rows: id, reactionParentKey,
 *   reactionText, reactionTimestamp in ms, author/from: wwebjs Client.js onReaction).
 * - read: WAWebUpdateUnreadChatAction.sendSeen({chat, threadId}) (wwebjs Utils.js sendSeen).
 * - chat states: WAWebChatStateBridge.sendChatStateComposing/Recording/Paused (wwebjs sendChatState).
 * - numbers: WAWebQueryExistsJob.queryWidExists(wid) (wwebjs getNumberId; 2026: static/lid.js).
 * - history: WAWebChatLoadMessages.loadEarlierMsgs({chat}) (wwebjs Chat.js fetchMessages): the
 *   batch before the chat's oldest loaded message, the page's own sends included (chatlog.py).
 * - contacts: WAWebCollections.Contact; pictures: WAWebContactProfilePicThumbBridge.
 *   requestProfilePicFromServer -> {eurl}, ServerStatusCodeError when none (wwebjs getProfilePicUrl).
 * - groups: WAWebCollections.GroupMetadata (participants collection: id, isAdmin, isSuperAdmin),
 *   2026: WAWebLidMigrationUtils.toPn(lid) gives a participant's number when known (wwebjs
 *   getChatModel); joins and leaves arrive as `gp2` messages with subtype add/invite/remove/leave
 *   and `recipients` (wwebjs Client.js group_join/group_leave).
 * - revokes: WAWebCmd.Cmd.sendRevokeMsgs(chat, {list, type: 'message'}, {clearMedia}) when
 *   WAWebMsgActionCapability.canSenderRevokeMsg(msg) (wwebjs Message.js delete); a revoked
 *   message's type changes to 'revoked'; an edit changes body (or caption) in place
 *   (wwebjs Client.js: change:type, change:body change:caption).
 */
(function () {
  'use strict';
  const M = window.__wasimModels;
  const REVOKE_WINDOW_S = 2 * 86400 + 12 * 3600;  // "about two days" to delete for everyone

  function build(core, W) {
    const Contact = new M.Collection();
    const GroupMetadata = new M.Collection();
    const reactionTableMode = { bulkUpsert: (rows) => {
      for (const r of rows) {
        const parent = W.Msg.get(r.reactionParentKey);
        if (parent) parent.reactions = (parent.reactions || []).concat([r]);
      }
      return Promise.resolve();
    } };
    const activity = (data) => core.rpc('activity', data);

    function contact(wid, pushname) {
      const id = M.toWid(wid);
      if (!id || !id.isUser()) return;
      const known = Contact.get(id);
      if (known) { if (pushname) known.set('pushname', pushname); return; }
      Contact.add(new M.Model({ id, name: undefined, pushname: pushname || undefined }));
    }

    async function queryWidExists(wid) {
      const w = M.toWid(wid);
      const r = await core.rpc('query_exists', { id: String(w) });
      return r.exists ? { wid: new M.Wid(r.phone + '@c.us'), biz: false } : null;
    }

    /** A message of the chat's history (tests/wasim/chatlog.py) as the page's model. */
    function historyMsg(chat, item) {
      const mine = !!item.from_me, me = core.lids ? window.__wasimLid.ourId(core, chat) : core.me();
      const author = chat.id.isGroup() && !mine && item.author ? M.toWid(item.author) : undefined;
      const id = new core.MsgKey({ fromMe: mine, remote: chat.id, id: item.id,
        participant: chat.id.isGroup() ? (mine ? item.participant || me : author) : undefined });
      const media = item.direct_path ? { directPath: item.direct_path, mimetype: item.mimetype, size: item.size,
        filename: item.filename || undefined, caption: item.caption || undefined } : {};
      const msg = new core.Msg(Object.assign({ id, body: item.body || '', type: item.type || 'chat', t: item.t,
        from: mine ? M.toWid(item.from || me) : chat.id, to: mine ? chat.id : me, author, ack: item.ack,
        isNewMsg: false, local: false, self: mine ? 'out' : 'in', mentionedJidList: [] }, media));
      if (!author) delete msg.author;
      return msg;
    }

    /** The batch before the oldest message the chat holds (chat.msgs keeps them oldest first),
     * added in front of it (chatlog.py: WhatsApp pages a chat's history by its oldest message). */
    async function loadEarlierMsgs({ chat }) {
      const oldest = chat.msgs.models[0];
      const r = await core.rpc('earlier', { chat: String(chat.id), before: oldest ? oldest.id.id : null,
        before_t: oldest ? oldest.t : null });
      return (r.messages || []).map((item, i) => {
        const loaded = historyMsg(chat, item), msg = W.Msg.get(loaded.id) || loaded;
        chat.msgs.add(msg, { at: i });
        W.Msg.add(msg);
        return msg;
      });
    }

    async function requestProfilePicFromServer(target) {
      const id = target && target.id && target.id.server ? target.id : M.toWid(target);
      const r = await core.rpc('profile_pic', { id: String(id) });
      if (!r.eurl) { const e = new Error('no profile picture'); e.name = 'ServerStatusCodeError'; e.statusCode = 404; throw e; }
      return { eurl: r.eurl, tag: r.tag };
    }

    W.Cmd.sendRevokeMsgs = async (chat, what) => {
      for (const msg of what.list || what) {
        await activity({ kind: 'revoke', id: String(msg.id), chat: String(chat.id) });
        msg.set({ type: 'revoked', body: '' });
      }
    };

    const modules = {
      WAWebMsgReply: { canReplyMsg: (m) => m.type !== 'revoked' && m.type !== 'gp2' },
      WAWebSendReactionMsgAction: { sendReactionToMsg: async (msg, text) => {
        await activity({ kind: 'reaction', id: String(msg.id), emoji: text });
        return 'OK';
      } },
      WAWebAddonReactionTableMode: { reactionTableMode },
      WAWebMsgActionCapability: {
        canSenderRevokeMsg: (m) => !!m.id.fromMe && m.type !== 'revoked' && Date.now() / 1000 - m.t < REVOKE_WINDOW_S,
        canAdminRevokeMsg: () => false,
      },
      WAWebUpdateUnreadChatAction: { sendSeen: async ({ chat }) => {
        await activity({ kind: 'seen', chat: String(chat.id), unread: chat.unreadCount || 0 });
        chat.set('unreadCount', 0);
      } },
      WAWebChatStateBridge: {
        sendChatStateComposing: (id) => activity({ kind: 'chatstate', chat: String(id), state: 'composing' }),
        sendChatStateRecording: (id) => activity({ kind: 'chatstate', chat: String(id), state: 'recording' }),
        sendChatStatePaused: (id) => activity({ kind: 'chatstate', chat: String(id), state: 'paused' }),
      },
      WAWebQueryExistsJob: { queryWidExists },
      WAWebChatLoadMessages: { loadEarlierMsgs },
      WAWebContactProfilePicThumbBridge: { requestProfilePicFromServer },
    };
    if (core.lids) modules.WAWebLidMigrationUtils = { toPn: (wid) => core.lids.phoneOf(M.toWid(wid)) };
    Object.assign(modules, window.__wasimMedia.build(core));
    Object.assign(W.modules, modules);
    Object.assign(W.modules.WAWebCollections, { Contact, GroupMetadata });
    W.messaging = { contact, command: (cmd) => command(core, W, cmd) };
  }

  function findMsg(W, id) {
    const m = W.Msg.get(id);
    if (!m) { const e = new Error('no such message on the page: ' + id); e.status = 404; throw e; }
    return m;
  }

  /** A group the phone is in: {id, subject, owner, is_lid, participants: [{phone, lid, admin, share_phone}]}. */
  function group(core, W, cmd) {
    const { chat } = W.findOrCreateChat(new M.Wid(cmd.id));
    const members = new M.Collection();
    for (const p of cmd.participants) {
      if (core.lids && p.share_phone !== false) core.lids.learn(p.phone, p.lid);
      members.add(new M.Model({ id: new M.Wid(cmd.is_lid && core.lids ? p.lid + '@lid' : p.phone + '@c.us'),
        isAdmin: p.admin === 'admin' || p.admin === 'superadmin', isSuperAdmin: p.admin === 'superadmin' }));
    }
    const meta = new M.Model({ id: chat.id, subject: cmd.subject, owner: new M.Wid(cmd.owner), creation: cmd.t,
      desc: cmd.description || undefined, isLidAddressingMode: !!(cmd.is_lid && core.lids), participants: members });
    GroupMetadataOf(W).add(meta);
    chat.groupMetadata = meta;
    chat.set({ name: cmd.subject, t: cmd.t });
    return { id: String(chat.id), participants: members.map((p) => String(p.id)) };
  }
  const GroupMetadataOf = (W) => W.modules.WAWebCollections.GroupMetadata;

  /** Someone joined or left a group: the participants change and a gp2 message arrives. */
  function groupEvent(core, W, cmd) {
    const meta = GroupMetadataOf(W).get(cmd.group_id);
    if (!meta) { const e = new Error('no such group on the page'); e.status = 404; throw e; }
    const ids = cmd.participants.map((p) => {
      if (core.lids && p.share_phone !== false) core.lids.learn(p.phone, p.lid);
      return new M.Wid(meta.isLidAddressingMode ? p.lid + '@lid' : p.phone + '@c.us');
    });
    for (const id of ids) {
      if (cmd.subtype === 'remove' || cmd.subtype === 'leave') { const m = meta.participants.get(id); if (m) meta.participants.remove(m); }
      else meta.participants.add(new M.Model({ id, isAdmin: false, isSuperAdmin: false }));
    }
    const author = cmd.author ? new M.Wid(meta.isLidAddressingMode ? cmd.author.lid + '@lid' : cmd.author.phone + '@c.us') : ids[0];
    const key = new core.MsgKey({ fromMe: false, remote: meta.id, id: cmd.message_id, participant: author });
    const msg = new core.Msg({ id: key, type: 'gp2', subtype: cmd.subtype, recipients: ids, author, t: cmd.t,
      from: meta.id, to: core.me(), isNewMsg: true, isNotification: true, body: '' });
    const chat = W.Chat.get(meta.id);
    if (chat) chat.msgs.add(msg);
    W.Msg.add(msg);
    return { id: String(key), recipients: ids.map(String) };
  }

  /** Test commands of this file (the phone's side); undefined for any other command. */
  function command(core, W, cmd) {
    switch (cmd.cmd) {
      case 'reaction': {
        const parent = findMsg(W, cmd.message_id);
        const sender = cmd.sender ? new M.Wid(cmd.sender) : (parent.id.fromMe ? parent.id.remote : parent.from);
        const row = { id: new core.MsgKey({ fromMe: false, remote: parent.id.remote, id: cmd.id }),
          reactionParentKey: parent.id, reactionText: cmd.emoji, reactionTimestamp: cmd.t * 1000,
          author: parent.id.remote.isGroup() ? sender : undefined, from: sender, orphan: 0, read: false };
        W.modules.WAWebAddonReactionTableMode.reactionTableMode.bulkUpsert([row]);
        return { id: String(row.id), sender: String(sender) };
      }
      case 'revoke': findMsg(W, cmd.message_id).set({ type: 'revoked', body: '' }); return { id: cmd.message_id };
      case 'edit': {
        const m = findMsg(W, cmd.message_id);
        m.latestEditMsgKey = new core.MsgKey({ fromMe: false, remote: m.id.remote, id: cmd.id });
        m.set(m.directPath ? 'caption' : 'body', cmd.body);
        return { id: cmd.message_id };
      }
      case 'group': return group(core, W, cmd);
      case 'group_event': return groupEvent(core, W, cmd);
      default: return undefined;
    }
  }

  window.__wasimMessaging = { build };
})();
