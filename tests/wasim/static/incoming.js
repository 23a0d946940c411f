/*
 * wasim: a message arriving from WhatsApp's servers (the `incoming` command), added to its chat
 * and to WAWebCollections.Msg (`add` with isNewMsg true), for both builds.
 *
 * Media (image, video, document): `body` holds a base64 JPEG thumbnail and the text is in
 * `caption`, with mimetype, filename (documents), size, directPath and media keys
 * (whatsapp-web.js src/structures/Message.js: hasMedia = Boolean(directPath), body = caption).
 * 2026 build: the command names LIDs; the page learns the phone numbers that came with it
 * (static/lid.js) and addresses us (`to`) in the chat's addressing mode.
 */
(function () {
  'use strict';
  const M = window.__wasimModels;

  /** A small JPEG, drawn here, standing in for the thumbnail WhatsApp sends. */
  function thumbnail(kind) {
    const canvas = document.createElement('canvas');
    canvas.width = 48;
    canvas.height = 36;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = { image: '#7fb2d9', video: '#2a3d52', document: '#e9edef' }[kind] || '#cccccc';
    ctx.fillRect(0, 0, 48, 36);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(10, 8, 20, 14);
    return canvas.toDataURL('image/jpeg', 0.6).split(',')[1];
  }

  function randomB64(n) { return window.__wasimModules.encodeB64(crypto.getRandomValues(new Uint8Array(n))); }
  function randomHex(n) {
    return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function mediaFields(cmd) {
    const drawn = ['image', 'video', 'document'].includes(cmd.msg_type);
    const out = { type: cmd.msg_type, body: drawn ? thumbnail(cmd.msg_type) : '', mimetype: cmd.mimetype, size: cmd.size,
      directPath: cmd.direct_path || '/v/t62.7118-24/' + randomHex(12) + '_n.enc?ccb=11-4&oh=01_' + randomHex(16) +
        '&oe=' + Math.floor(cmd.t + 14 * 86400).toString(16).toUpperCase() + '&_nc_sid=5e03e0',
      mediaKey: randomB64(32), mediaKeyTimestamp: cmd.t, filehash: randomB64(32), encFilehash: randomB64(32) };
    if (cmd.caption !== null && cmd.caption !== undefined) out.caption = cmd.caption;
    if (cmd.msg_type === 'document') out.filename = cmd.filename;
    else if (cmd.msg_type === 'video' || cmd.msg_type === 'image') {
      Object.assign(out, cmd.msg_type === 'video' ? { width: 640, height: 360 } : { width: 1280, height: 960 });
    }
    return out;
  }

  /** Deliver `cmd` on a paired, synced page; returns {id, from, to, t}. */
  function deliver(core, W, cmd) {
    const isStatus = cmd.kind === 'status', isGroup = cmd.kind === 'group';
    const lids = core.lids, L = window.__wasimLid;
    if (lids && cmd.sender_phone && String(cmd.from).endsWith('@lid')) lids.learn(cmd.sender_phone, cmd.from);
    if (lids && cmd.author_phone && String(cmd.author).endsWith('@lid')) lids.learn(cmd.author_phone, cmd.author);
    const remote = new M.Wid(isStatus ? 'status@broadcast' : cmd.from);
    const author = isGroup || isStatus ? M.toWid(cmd.author) : undefined;
    const { chat } = W.findOrCreateChat(remote);
    if (lids && isGroup && !chat.groupMetadata) L.setGroupMeta(chat, cmd.group_is_lid);
    const to = lids ? L.ourId(core, chat) : core.me();
    const id = new core.MsgKey({ fromMe: false, remote, id: cmd.id, participant: author });
    const msg = new core.Msg(Object.assign({ id, body: cmd.body, type: 'chat', t: cmd.t, from: remote, to,
      author, notifyName: cmd.pushname || '', ack: 1, isNewMsg: true, local: false, self: 'in',
      isStatusV3: isStatus, broadcast: isStatus, isForwarded: false, mentionedJidList: [] },
    cmd.msg_type && cmd.msg_type !== 'chat' ? mediaFields(cmd) : {}));
    if (!author) delete msg.author;
    if (cmd.quoted_id) {  // a reply: the quoted message's context (static/messaging.js)
      const quoted = W.Msg.get(cmd.quoted_id);
      if (!quoted) { const e = new Error('no such message to quote: ' + cmd.quoted_id); e.status = 404; throw e; }
      Object.assign(msg, quoted.msgContextInfo(chat));
    }
    msg.mentionedJidList = (cmd.mentions || []).map((w) => new M.Wid(w));
    if (W.messaging) W.messaging.contact(author || remote, cmd.pushname);
    chat.set({ t: msg.t, unreadCount: (chat.unreadCount || 0) + 1 });
    chat.msgs.add(msg);
    W.Msg.add(msg);
    return { id: String(id), from: String(remote), to: String(to), t: msg.t };
  }

  window.__wasimIncoming = { deliver, thumbnail };
})();
