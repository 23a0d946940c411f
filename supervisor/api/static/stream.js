// Server-sent events read with fetch(): an EventSource cannot send the X-Api-Key header, and a
// key in the URL would end up in logs. Reconnects with backoff and resumes with Last-Event-ID.

import {keyHeaders, unauthorized} from './api.js';

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

/** Parse an SSE byte stream into {id, event, data} messages (comments and pings skipped). */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let message = {id: null, event: 'message', data: []};
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer += value;
      // A chunk may end between "\r" and "\n": keep a trailing "\r" for the next one.
      const cut = buffer.endsWith('\r') ? buffer.length - 1 : buffer.length;
      const lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
      buffer = lines.pop() + buffer.slice(cut);
      for (const line of lines) {
        if (line === '') {
          if (message.data.length) yield {...message, data: message.data.join('\n')};
          message = {id: null, event: 'message', data: []};
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'data') message.data.push(text);
        else if (field === 'event') message.event = text;
        else if (field === 'id') message.id = text;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * A live event stream. `onEvent(event)` gets each parsed event ({id, event, session, timestamp,
 * payload}); `onState(state)` gets 'connecting' | 'live' | 'retrying' | 'gone'; `onGap()` is
 * called when events were missed (after a long disconnection): reload what is shown.
 */
export class EventStream {
  constructor(path, {onEvent, onState = () => {}, onGap = () => {}, lastId = null}) {
    Object.assign(this, {path, onEvent, onState, onGap, lastId});
    this.controller = null;
    this.stopped = true;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.run();
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async run() {
    let delay = MIN_DELAY_MS;
    while (!this.stopped) {
      this.controller = new AbortController();
      this.onState('connecting');
      try {
        const extra = {Accept: 'text/event-stream'};
        if (this.lastId !== null) extra['Last-Event-ID'] = String(this.lastId);
        const resp = await fetch(this.path, {
          headers: keyHeaders(undefined, extra), cache: 'no-store', signal: this.controller.signal,
        });
        if (resp.status === 401) {
          this.stopped = true;
          unauthorized();
          break;
        }
        if (resp.status === 404) {
          this.stopped = true;
          this.onState('gone');
          break;
        }
        if (!resp.ok || !resp.body) throw new Error(`status ${resp.status}`);
        this.onState('live');
        delay = MIN_DELAY_MS;
        for await (const message of readEvents(resp.body)) {
          if (message.event === 'gap') {
            this.onGap();
            continue;
          }
          if (message.id !== null) this.lastId = message.id; // an integer, or a cluster's stream id
          let event;
          try {
            event = JSON.parse(message.data);
          } catch {
            continue;
          }
          this.onEvent(event);
        }
      } catch (err) {
        if (this.stopped) break;
      }
      if (this.stopped) break;
      this.onState('retrying');
      await this.pause(delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }

  pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms * (0.75 + Math.random() * 0.5));
      this.controller.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
