// The session page's send form (a text, or a file with the text as its caption) and the
// download link of a received file in its event list.

import {blob, post, sessionPath, upload} from './api.js';
import {h, setText} from './dom.js';
import {clock} from './format.js';

/** The form that sends a test message through session `id`: {form, fieldset}. */
export function sendForm(id) {
  const to = h('input', {id: 'send-to', name: 'to', required: true, inputMode: 'tel',
    autocomplete: 'off', placeholder: '+244 929 782 402', 'aria-describedby': 'send-to-hint'});
  const text = h('textarea', {id: 'send-text', name: 'text', rows: 3},
    'Test message from zapvisor');
  const file = h('input', {id: 'send-file', name: 'file', type: 'file', 'aria-describedby': 'send-file-hint'});
  const result = h('p.result', {id: 'send-result', role: 'status'});
  const button = h('button.primary', {type: 'submit'}, 'Send');
  const fieldset = h('fieldset', {},
    h('legend', {}, 'Send a test message'),
    h('div.field', {}, h('label', {for: 'send-to'}, 'To'), to,
      h('p.hint', {id: 'send-to-hint'}, 'A phone number with its country code, or a chat id (…@c.us, …@g.us).')),
    h('div.field', {}, h('label', {for: 'send-text'}, 'Text'), text),
    h('div.field', {}, h('label', {for: 'send-file'}, 'File'), file,
      h('p.hint', {id: 'send-file-hint'}, 'Optional: an image, video, audio, document or sticker; the text becomes its caption.')),
    button);
  const form = h('form.send', {}, fieldset, result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    setText(result, 'Sending…');
    try {
      let sent;
      if (file.files.length) {
        const form = new FormData();
        form.append('to', to.value.trim());
        if (text.value.trim()) form.append('caption', text.value);
        form.append('file', file.files[0]);
        sent = await upload(sessionPath(id, 'media'), form);
      } else {
        sent = await post(sessionPath(id, 'messages'), {to: to.value.trim(), text: text.value});
      }
      if (sent.status === 'sent') {
        setText(result, `✔ Sent to ${sent.to} at ${clock(sent.timestamp)} (id ${sent.id}).`);
        result.dataset.messageId = sent.id;
      } else {  // 202: pacing or a limit holds it; it goes on by itself
        const held = sent.held_by ? `, held by the ${sent.held_by} limit` : '';
        setText(result, `⏳ Queued as #${sent.queue_id} (${sent.status}${held}); it will be sent by itself.`);
      }
    } catch (err) {
      setText(result, err.status === 401 ? '' : `✖ Not sent: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  });
  return {form, fieldset};
}

/** An incoming media message's event item, with a link that downloads its file (fetched with
 * the key in a header, then handed to the browser as a blob). */
export function withMedia(id, item, event) {
  const p = event.payload || {};
  if (event.event !== 'message' || !p.has_media || !p.id) return item;
  const name = p.filename || `${p.type ?? 'media'}.${(p.mimetype || 'application/bin').split('/')[1].split(';')[0]}`;
  const link = h('a.media-link', {href: '#', download: name, dataset: {media: p.id}}, `⬇ ${name}`);
  link.addEventListener('click', async (ev) => {
    if (link.dataset.ready) return;
    ev.preventDefault();
    try {
      link.href = URL.createObjectURL(await blob(sessionPath(id, `messages/${encodeURIComponent(p.id)}/media`)));
      link.dataset.ready = '1';
      link.click();
    } catch (err) {
      link.replaceWith(h('span.error', {}, `✖ ${err.message}`));
    }
  });
  item.append(' ', link);
  return item;
}
