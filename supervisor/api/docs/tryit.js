// "Try it": an operation's parameters and body as a form, sent with fetch to this daemon with the
// key typed at the top of the page (kept in this tab's sessionStorage, where the dashboard keeps
// it too), and the answer shown as it came. A curl line says the same request for a terminal,
// with the key as $ZAPVISOR_KEY so that it never ends up in a screenshot or a pasted log.

import {auth} from '/static/api.js';
import {h, fill} from '/static/dom.js';
import {example, resolve} from './schema.js';

const BODY_LIMIT = 200_000; // characters of an answer shown; the rest is cut

function shellQuote(text) {
  return `'${String(text).replace(/'/g, `'\\''`)}'`;
}

/** The curl command of a request. */
function curl(method, url, headers, body) {
  const parts = ['curl', '-sS'];
  if (method !== 'GET') parts.push('-X', method);
  for (const [name, value] of Object.entries(headers)) parts.push('-H', shellQuote(`${name}: ${value}`));
  if (body instanceof FormData) {
    for (const [name, value] of body) {
      parts.push('-F', shellQuote(value instanceof File ? `${name}=@${value.name || 'FILE'}` : `${name}=${value}`));
    }
  } else if (body !== undefined) parts.push('--data-binary', shellQuote(body));
  parts.push(shellQuote(new URL(url, location.href).href));
  return parts.join(' ');
}

function paramInput(param, doc) {
  const schema = resolve(param.schema, doc);
  const value = param.in === 'path' ? example(schema, doc) : '';
  const input = h('input', {name: param.name, value: value === '' ? '' : String(value),
    required: param.required, placeholder: schema.enum ? schema.enum.join(' | ') : schema.type ?? ''});
  input.dataset.in = param.in;
  return h('label.field', {}, h('span', {}, param.name, param.required ? ' *' : '', ` (${param.in})`), input);
}

function bodyInputs(op, doc) {
  const content = op.requestBody?.content ?? {};
  if (content['application/json']) {
    const text = JSON.stringify(example(content['application/json'].schema, doc), null, 2);
    return {kind: 'json', el: h('label.field.wide', {}, h('span', {}, 'JSON body'),
      h('textarea', {name: '__body', rows: Math.min(14, text.split('\n').length + 1), value: text, spellcheck: false}))};
  }
  const form = content['multipart/form-data'];
  if (!form) return null;
  const schema = resolve(form.schema, doc);
  const fields = Object.entries(schema.properties ?? {}).map(([name, prop]) => {
    const input = h('input', {name, type: prop.format === 'binary' ? 'file' : 'text'});
    input.dataset.in = 'form';
    return h('label.field', {}, h('span', {}, name, (schema.required ?? []).includes(name) ? ' *' : ''), input);
  });
  return {kind: 'form', el: h('fieldset.form-body', {}, h('legend', {}, 'multipart/form-data body'), fields)};
}

/** Build the request the form describes: [method, url, headers, body]. */
function request(form, method, path, body) {
  let url = path;
  const query = new URLSearchParams();
  const headers = {};
  for (const input of form.querySelectorAll('input[data-in]')) {
    const {value} = input;
    if (input.dataset.in === 'path') url = url.replace(`{${input.name}}`, encodeURIComponent(value));
    else if (input.dataset.in === 'query' && value !== '') query.append(input.name, value);
    else if (input.dataset.in === 'header' && value !== '') headers[input.name] = value;
  }
  if (query.size) url += `?${query}`;
  let payload;
  if (body?.kind === 'json') {
    headers['Content-Type'] = 'application/json';
    payload = form.elements.__body.value;
  } else if (body?.kind === 'form') {
    payload = new FormData();
    for (const input of body.el.querySelectorAll('input')) {
      if (input.type === 'file' && input.files.length) payload.append(input.name, input.files[0]);
      else if (input.type !== 'file' && input.value !== '') payload.append(input.name, input.value);
    }
  }
  return [method, url, headers, payload];
}

async function show(out, resp) {
  const type = resp.headers.get('Content-Type') ?? '';
  let text;
  if (/json/.test(type)) {
    const raw = await resp.text();
    try { text = JSON.stringify(JSON.parse(raw), null, 2); } catch { text = raw; }
  } else if (/^text\//.test(type)) text = await resp.text();
  else text = `${(await resp.arrayBuffer()).byteLength} bytes of ${type || 'data'}`;
  if (text.length > BODY_LIMIT) text = `${text.slice(0, BODY_LIMIT)}\n… (cut)`;
  fill(out, h('div.status', {dataset: {ok: String(resp.ok)}}, `${resp.status} ${resp.statusText}`, h('span.muted', {}, ` ${type}`)),
    h('pre.answer', {}, text));
}

/** The try-it form of one operation. */
export function tryIt(method, path, op, doc) {
  const params = (op.parameters ?? []).map((param) => paramInput(param, doc));
  const body = bodyInputs(op, doc);
  const streams = Object.values(op.responses ?? {}).some((r) => r.content?.['text/event-stream']);
  const out = h('div.result', {role: 'status'});
  const line = h('pre.curl', {});
  const form = h('form.try', {}, params, body?.el, h('div.actions', {},
    h('button.primary', {type: 'submit'}, streams ? 'Show the command' : 'Send'),
    streams && h('span.muted', {}, ' An event stream: follow it with curl -N or `zapvisor events`.')),
  line, out);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const [verb, url, headers, payload] = request(form, method.toUpperCase(), path, body);
    const secured = op.security?.length !== 0;
    const shown = secured ? {'X-Api-Key': '$ZAPVISOR_KEY', ...headers} : headers;
    fill(line, curl(verb, url, shown, payload).replace(`'X-Api-Key: $ZAPVISOR_KEY'`, `"X-Api-Key: $ZAPVISOR_KEY"`));
    if (streams) return;
    fill(out, h('p.muted', {}, 'Sending…'));
    const sent = secured ? {'X-Api-Key': auth.key ?? '', ...headers} : headers;
    try {
      await show(out, await fetch(url, {method: verb, headers: sent, body: payload, cache: 'no-store'}));
    } catch (err) {
      fill(out, h('p.error', {}, `The daemon cannot be reached: ${err.message}`));
    }
  });
  return h('section.tryit', {}, h('h4', {}, 'Try it'), form);
}
