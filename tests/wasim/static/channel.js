/*
 * wasim: the page's WebSocket back to the simulator server ("WhatsApp's servers").
 *
 * Page -> server: hello, status, rpc requests ({type, req_id, ...}), cmd_result.
 * Server -> page: welcome, reply ({req_id, ok, ...}), cmd ({cmd_id, cmd, ...}).
 * Unanswered rpc requests are re-sent after a reconnect; the server treats them idempotently
 * (it knows a re-sent request by this load's random `boot` token, sent in every hello, and its
 * req_id).
 */
(function () {
  'use strict';

  class Channel {
    /**
     * @param {string} url ws:// address of /_sim/ws
     * @param {() => object} hello builds the hello message (sent first on every connect)
     * @param {(cmd: object) => Promise<object>} onCommand runs a server command
     */
    constructor(url, hello, onCommand) {
      this.url = url;
      this.hello = hello;
      this.onCommand = onCommand;
      this.ws = null;
      this.open = false;
      this.nextReq = 1;
      this.inflight = new Map();
      this.queue = [];
      this.delay = 100;
      this.boot = crypto.randomUUID();
      this.welcomed = new Promise((resolve) => { this._welcome = resolve; });
      window.addEventListener('pagehide', () => { this.closing = true; });
    }

    connect() {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this.open = true;
        this.delay = 100;
        ws.send(JSON.stringify(Object.assign({ type: 'hello', boot: this.boot }, this.hello())));
        for (const req of this.inflight.values()) ws.send(JSON.stringify(req.msg));
        const queued = this.queue.splice(0);
        for (const m of queued) ws.send(JSON.stringify(m));
      };
      ws.onmessage = (ev) => this.handle(JSON.parse(ev.data));
      ws.onclose = () => {
        this.open = false;
        if (this.closing) return;
        setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(this.delay * 2, 2000);
      };
      ws.onerror = () => undefined;
    }

    send(msg) {
      if (this.open && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
      else this.queue.push(msg);
    }

    rpc(type, data) {
      const reqId = this.nextReq++;
      const msg = Object.assign({ type, req_id: reqId }, data || {});
      return new Promise((resolve, reject) => {
        this.inflight.set(reqId, { msg, resolve, reject });
        if (this.open && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
      });
    }

    handle(m) {
      if (m.type === 'welcome') { this._welcome(m); return; }
      if (m.type === 'reply') {
        const req = this.inflight.get(m.req_id);
        if (!req) return;
        this.inflight.delete(m.req_id);
        if (m.ok) req.resolve(m); else req.reject(new Error(m.error || 'request failed'));
        return;
      }
      if (m.type === 'cmd') {
        Promise.resolve()
          .then(() => this.onCommand(m))
          .then((result) => this.send({ type: 'cmd_result', cmd_id: m.cmd_id, ok: true, result: result || {} }))
          .catch((err) => this.send({ type: 'cmd_result', cmd_id: m.cmd_id, ok: false,
            status: (err && err.status) || 500, error: String((err && err.message) || err) }));
      }
    }
  }

  window.__wasimChannel = Channel;
})();
