// The API reference: /openapi.json rendered by the daemon's own page (no framework, no build, no
// CDN). Operations are grouped by tag; each opens to its parameters, body, answers and a try-it
// form, and its address (#op-<operationId>) links to it. The filter matches method, path and
// summary.

import {auth} from '/static/api.js';
import {h, fill} from '/static/dom.js';
import {resolve, schemaView} from './schema.js';
import {tryIt} from './tryit.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Text with `code spans` and blank-line paragraphs, as the declarations' docstrings write it. */
function prose(text) {
  return (text ?? '').split(/\n\s*\n/).filter((p) => p.trim()).map((para) => h('p', {},
    para.split('`').map((part, i) => (i % 2 ? h('code', {}, part) : part.replace(/\s*\n\s*/g, ' ')))));
}

function parametersView(op, doc) {
  if (!op.parameters?.length) return null;
  return h('section', {}, h('h4', {}, 'Parameters'), h('table.params', {},
    h('thead', {}, h('tr', {}, ['Name', 'In', 'Schema', 'Description'].map((t) => h('th', {}, t)))),
    h('tbody', {}, op.parameters.map((p) => h('tr', {},
      h('td', {}, h('code', {}, p.name), p.required ? h('span.required', {}, 'required') : ''),
      h('td', {}, p.in), h('td', {}, schemaView(p.schema, doc)), h('td', {}, p.description ?? ''))))));
}

function contentView(content, doc) {
  return Object.entries(content ?? {}).map(([media, {schema}]) => h('div.media', {},
    h('div.media-type', {}, media), schemaView(schema, doc)));
}

function responsesView(op, doc) {
  return h('section', {}, h('h4', {}, 'Answers'), h('ul.answers', {},
    Object.entries(op.responses).map(([status, answer]) => {
      const r = resolve(answer, doc);
      return h('li', {dataset: {status: status[0]}}, h('div.answer-head', {},
        h('span.code', {}, status), h('span', {}, r.description ?? ''),
        Object.keys(r.headers ?? {}).map((name) => h('span.facet', {}, `header ${name}`))),
      contentView(r.content, doc));
    })));
}

function operationView(method, path, op, doc) {
  const details = h('details.op', {id: `op-${op.operationId}`, dataset: {method}},
    h('summary', {}, h('span.method', {}, method.toUpperCase()), h('code.path', {}, path),
      h('span.summary', {}, op.summary ?? ''),
      op.security?.length === 0 ? h('span.public', {title: 'no key needed'}, 'public') : ''));
  details.dataset.search = `${method} ${path} ${op.summary ?? ''}`.toLowerCase();
  let built = false;
  details.addEventListener('toggle', () => {
    if (details.open) history.replaceState(null, '', `#${details.id}`);
    if (!details.open || built) return;
    built = true; // the body of 62 operations is built when first opened, not at load
    details.append(h('div.op-body', {}, prose(op.description), parametersView(op, doc),
      op.requestBody && h('section', {}, h('h4', {}, 'Body'), contentView(op.requestBody.content, doc)),
      responsesView(op, doc), tryIt(method, path, op, doc)));
  });
  return details;
}

function keyBox() {
  const input = h('input', {type: 'password', id: 'key', autocomplete: 'off', placeholder: 'API key',
    value: auth.key ?? '', 'aria-label': 'API key (to try routes)'});
  input.addEventListener('change', () => (input.value ? auth.set(input.value) : auth.clear()));
  return h('label.key', {}, h('span', {}, 'Key to try routes '), input);
}

function filterOps(root, text) {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  for (const section of root.querySelectorAll('section.tag')) {
    let shown = 0;
    for (const op of section.querySelectorAll('details.op')) {
      op.hidden = !words.every((w) => op.dataset.search.includes(w));
      shown += op.hidden ? 0 : 1;
    }
    section.hidden = shown === 0;
  }
}

function render(root, doc) {
  const byTag = new Map((doc.tags ?? []).map((tag) => [tag.name, {tag, ops: []}]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS.filter((m) => item[m])) {
      for (const name of item[method].tags ?? ['other']) {
        if (!byTag.has(name)) byTag.set(name, {tag: {name}, ops: []});
        byTag.get(name).ops.push(operationView(method, path, item[method], doc));
      }
    }
  }
  const groups = [...byTag.values()].filter((g) => g.ops.length);
  const filter = h('input', {type: 'search', placeholder: 'Filter: method, path or words', 'aria-label': 'Filter operations'});
  const main = h('main.ops', {}, groups.map(({tag, ops}) => h('section.tag', {id: `tag-${tag.name}`},
    h('h2', {}, tag.name), tag.description && h('p.muted', {}, tag.description), ops)));
  filter.addEventListener('input', () => filterOps(main, filter.value));
  fill(root,
    h('header.info', {}, h('h1.title', {}, doc.info.title, h('span.version', {}, doc.info.version)),
      prose(doc.info.description),
      h('p.links', {}, h('a', {href: '/openapi.json'}, 'openapi.json'), ' · ', h('a', {href: '/'}, 'dashboard'))),
    h('div.bar', {}, filter, keyBox()),
    h('div.layout', {}, h('nav.tags', {'aria-label': 'Groups'}, groups.map(({tag, ops}) => h('a', {href: `#tag-${tag.name}`},
      tag.name, h('span.count', {}, String(ops.length))))), main));
  openLinked();
  window.addEventListener('hashchange', openLinked);
}

/** Open and show the operation the address names (#op-<operationId>). */
function openLinked() {
  const target = location.hash.startsWith('#op-') && document.getElementById(location.hash.slice(1));
  if (target) {
    target.open = true;
    target.scrollIntoView();
  }
}

async function main() {
  const root = document.getElementById('docs');
  try {
    const resp = await fetch('/openapi.json', {cache: 'no-store'});
    if (!resp.ok) throw new Error(`the daemon answered ${resp.status}`);
    render(root, await resp.json());
  } catch (err) {
    fill(root, h('p.error', {}, `The API document could not be loaded: ${err.message}`));
  }
}

main();
