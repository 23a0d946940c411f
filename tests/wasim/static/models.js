/*
 * wasim: Backbone-like models, collections and WhatsApp ids for the fake WhatsApp Web page.
 *
 * Shapes follow what whatsapp-web.js reads from the real page (research/whatsapp-anchors.md §8):
 * models keep their attributes as plain properties, `set()` fires `change:<attr>` with
 * `(model, value)`, and collections re-fire their models' change events.
 */
(function () {
  'use strict';

  /** Minimal event emitter with Backbone's on/off/once/trigger. */
  class Emitter {
    constructor() {
      Object.defineProperty(this, '_events', { value: {}, writable: true, enumerable: false });
    }
    on(names, cb, ctx) {
      for (const name of String(names).split(/\s+/)) {
        (this._events[name] = this._events[name] || []).push({ cb, ctx });
      }
      return this;
    }
    once(name, cb, ctx) {
      const wrapper = (...args) => { this.off(name, wrapper); cb.apply(ctx || this, args); };
      return this.on(name, wrapper, ctx);
    }
    off(name, cb) {
      if (name === undefined) { this._events = {}; return this; }
      if (cb === undefined) { delete this._events[name]; return this; }
      this._events[name] = (this._events[name] || []).filter((l) => l.cb !== cb);
      return this;
    }
    trigger(name, ...args) {
      for (const l of (this._events[name] || []).slice()) {
        try { l.cb.apply(l.ctx || this, args); } catch (e) { console.error('listener for', name, e); }
      }
      for (const l of (this._events.all || []).slice()) {
        try { l.cb.apply(l.ctx || this, [name, ...args]); } catch (e) { console.error('all-listener', e); }
      }
      return this;
    }
    emit(name, ...args) { return this.trigger(name, ...args); }
    listenerCount(name) { return (this._events[name] || []).length; }
  }

  /** A model: attributes are own properties; set() fires change events. */
  class Model extends Emitter {
    constructor(attrs) {
      super();
      Object.defineProperty(this, '_collections', { value: [], writable: true, enumerable: false });
      Object.assign(this, attrs || {});
    }
    get(key) { return this[key]; }
    set(key, value) {
      const attrs = typeof key === 'object' ? key : { [key]: value };
      const changed = [], previous = {};
      for (const [k, v] of Object.entries(attrs)) {
        if (this[k] !== v) { previous[k] = this[k]; this[k] = v; changed.push(k); }
      }
      // (model, value, previous value): wwebjs's change:body listener reads the third as prevBody.
      for (const k of changed) this.trigger('change:' + k, this, this[k], previous[k]);
      if (changed.length) this.trigger('change', this);
      return this;
    }
    trigger(name, ...args) {
      super.trigger(name, ...args);
      if (name.startsWith('change')) {
        for (const c of this._collections) c.trigger(name, ...args);
      }
      return this;
    }
  }

  /** Key under which a model or id is stored in a collection. */
  function keyOf(id) {
    if (id === null || id === undefined) return '';
    if (typeof id === 'string') return id;
    if (id._serialized) return id._serialized;
    if (id.id !== undefined && typeof id.id === 'object') return keyOf(id.id);
    return String(id);
  }

  /** An ordered set of models indexed by their id's `_serialized`. */
  class Collection extends Emitter {
    constructor() {
      super();
      this.models = [];
      Object.defineProperty(this, '_byId', { value: new Map(), enumerable: false });
    }
    get length() { return this.models.length; }
    get(id) { return this._byId.get(keyOf(id)); }
    has(id) { return this._byId.has(keyOf(id)); }
    /** Backbone's add: `options.at` inserts at that index (a chat's earlier messages go first). */
    add(model, options) {
      const key = keyOf(model.id);
      const existing = this._byId.get(key);
      if (existing) return existing;
      const at = options && Number.isInteger(options.at) ? Math.max(0, Math.min(options.at, this.models.length)) : this.models.length;
      this.models.splice(at, 0, model);
      this._byId.set(key, model);
      model._collections.push(this);
      this.trigger('add', model, this, options || {});
      return model;
    }
    remove(model) {
      const key = keyOf(model.id);
      if (!this._byId.has(key)) return undefined;
      this._byId.delete(key);
      this.models = this.models.filter((m) => m !== model);
      model._collections = model._collections.filter((c) => c !== this);
      this.trigger('remove', model, this, {});
      return model;
    }
    reset() { for (const m of this.models.slice()) this.remove(m); this.trigger('reset', this); }
    getModelsArray() { return this.models.slice(); }
    toArray() { return this.models.slice(); }
    forEach(fn) { this.models.forEach(fn); }
    map(fn) { return this.models.map(fn); }
    filter(fn) { return this.models.filter(fn); }
    find(fn) { return typeof fn === 'function' ? this.models.find(fn) : Promise.resolve(this.get(fn)); }
  }

  /** A WhatsApp id (`user@server`), like WA's Wid. */
  class Wid {
    constructor(serialized) {
      let s = String(serialized);
      if (s.endsWith('@s.whatsapp.net')) s = s.replace('@s.whatsapp.net', '@c.us');
      const at = s.indexOf('@');
      if (at <= 0 || at === s.length - 1) throw new Error('invalid wid: ' + serialized);
      this.server = s.slice(at + 1);
      this.user = s.slice(0, at);
      this._serialized = s;
    }
    toString() { return this._serialized; }
    toJid() { return this.server === 'c.us' ? this.user + '@s.whatsapp.net' : this._serialized; }
    isUser() { return this.server === 'c.us' || this.server === 'lid'; }
    isLid() { return this.server === 'lid'; }
    isGroup() { return this.server === 'g.us'; }
    isBroadcast() { return this.server === 'broadcast'; }
    isStatus() { return this._serialized === 'status@broadcast'; }
    isStatusV3() { return this.isStatus(); }
    isNewsletter() { return this.server === 'newsletter'; }
    equals(other) { return !!other && keyOf(other) === this._serialized; }
  }

  function toWid(v) {
    if (v === null || v === undefined) return undefined;
    return v instanceof Wid ? v : new Wid(typeof v === 'string' ? v : v._serialized);
  }

  /** A message key, like WA's MsgKey: `fromMe_remote_id[_participant]`. */
  class MsgKey {
    constructor(opts) {
      const o = opts || {};
      let fromMe, remote;
      if (o.remote !== undefined) {
        fromMe = !!o.fromMe;
        remote = toWid(o.remote);
      } else {
        fromMe = o.selfDir === 'out';
        remote = toWid(fromMe ? o.to : o.from);
      }
      if (!o.id || !remote) throw new Error('MsgKey needs an id and a remote');
      this.fromMe = fromMe;
      this.remote = remote;
      this.id = String(o.id);
      if (o.participant) this.participant = toWid(o.participant);
      this._serialized = fromMe + '_' + remote._serialized + '_' + this.id +
        (this.participant ? '_' + this.participant._serialized : '');
    }
    toString() { return this._serialized; }
    equals(other) { return !!other && keyOf(other) === this._serialized; }
    static newId() {
      const bytes = crypto.getRandomValues(new Uint8Array(8));
      return '3EB0' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
    }
    static fromString(s) {
      const [fromMe, remote, id, participant] = String(s).split('_');
      return new MsgKey({ fromMe: fromMe === 'true', remote, id, participant });
    }
  }

  /** Plain JSON copy of a value, turning Wid/MsgKey into their data fields. */
  function plain(v) {
    if (v instanceof Wid) return { server: v.server, user: v.user, _serialized: v._serialized };
    if (v instanceof MsgKey) {
      const out = { fromMe: v.fromMe, remote: plain(v.remote), id: v.id, _serialized: v._serialized };
      if (v.participant) out.participant = plain(v.participant);
      return out;
    }
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object' && !(v instanceof Emitter)) {
      const out = {};
      for (const [k, x] of Object.entries(v)) if (typeof x !== 'function') out[k] = plain(x);
      return out;
    }
    return v;
  }

  /** A message model as emitted on `Msg` `add`. */
  class Msg extends Model {
    serialize() {
      const out = {};
      for (const [k, v] of Object.entries(this)) if (typeof v !== 'function') out[k] = plain(v);
      return out;
    }
    getLinks() { return []; }
    /** The reply fields of a message quoting this one (wwebjs Utils.js sendMessage spreads them;
     * wa-js getQuotedMsgKey.ts reads quotedStanzaID, quotedParticipant, quotedRemoteJid). */
    msgContextInfo(chat) {
      const remote = this.id.remote;
      return { quotedMsg: { type: this.type, body: this.body, caption: this.caption },
        quotedStanzaID: this.id.id, quotedParticipant: this.id.fromMe ? this.from : (this.author || this.from),
        quotedRemoteJid: chat && String(chat.id) !== String(remote) ? remote : undefined };
    }
    canReply() { return this.type !== 'revoked' && this.type !== 'gp2'; }
    unsafe() { return this; }
    get isSentByMe() { return !!(this.id && this.id.fromMe); }
  }

  /** A chat model with its own message collection. */
  class Chat extends Model {
    constructor(attrs) {
      super(attrs);
      Object.defineProperty(this, 'msgs', { value: new Collection(), enumerable: false });
    }
    get isGroup() { return !!(this.id && this.id.isGroup()); }
    get formattedTitle() { return this.name || (this.id && this.id.user) || ''; }
    serialize() {
      const out = { id: plain(this.id), name: this.name, t: this.t, unreadCount: this.unreadCount || 0,
        isGroup: this.isGroup, archive: false, isReadOnly: false };
      if (this.groupMetadata) out.groupMetadata = plain(this.groupMetadata);  // 2026 build
      return out;
    }
  }

  window.__wasimModels = { Emitter, Model, Collection, Wid, MsgKey, Msg, Chat, toWid, plain, keyOf };
})();
