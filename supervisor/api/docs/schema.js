// JSON Schemas of the document (the subset it uses: type, properties, items, oneOf, enum, const,
// $ref and the usual constraints) shown as nested lists, and an example value made from one for
// the try-it form. Elements come from dom.js's h(): no text of the document becomes markup.

import {h} from '/static/dom.js';

const MAX_DEPTH = 6;

/** Follow local `$ref`s ('#/components/schemas/Error') through `doc`. */
export function resolve(schema, doc) {
  for (let hops = 0; schema && typeof schema.$ref === 'string' && hops < 16; hops++) {
    schema = schema.$ref.replace(/^#\//, '').split('/')
      .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((node, key) => node?.[key], doc);
  }
  return schema ?? {};
}

function typeOf(schema, doc) {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.oneOf) return 'one of';
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : schema.type ?? 'any';
  if (type === 'array' && schema.items) return `array of ${typeOf(resolve(schema.items, doc), doc)}`;
  return type;
}

const FACETS = [
  ['format', (v) => v],
  ['contentEncoding', (v) => v],
  ['pattern', (v) => `matches ${v}`],
  ['minLength', (v) => `≥ ${v} characters`],
  ['maxLength', (v) => `≤ ${v} characters`],
  ['minimum', (v) => `≥ ${v}`],
  ['maximum', (v) => `≤ ${v}`],
  ['multipleOf', (v) => `a multiple of ${v}`],
  ['maxItems', (v) => `at most ${v}`],
  ['uniqueItems', (v) => (v ? 'no repeats' : '')],
  ['enum', (v) => `one of ${v.map((x) => JSON.stringify(x)).join(', ')}`],
  ['default', (v) => `default ${JSON.stringify(v)}`],
  ['writeOnly', (v) => (v ? 'never shown back' : '')],
  ['examples', (v) => `e.g. ${v.map((x) => JSON.stringify(x)).join(', ')}`],
];

function facets(schema) {
  return FACETS.filter(([key]) => schema[key] !== undefined)
    .map(([key, say]) => say(schema[key]))
    .filter(Boolean)
    .map((text) => h('span.facet', {}, text));
}

/** The object-like part of a schema whose children deserve their own rows. */
function inner(schema, doc) {
  if (schema.properties || schema.oneOf) return schema;
  if (schema.items) {
    const items = resolve(schema.items, doc);
    if (items.properties || items.oneOf) return items;
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    const values = resolve(schema.additionalProperties, doc);
    if (values.properties) return values;
  }
  return null;
}

function children(schema, doc, depth) {
  const nested = inner(schema, doc);
  if (!nested || depth >= MAX_DEPTH) return null;
  const required = new Set(nested.required ?? []);
  const rows = nested.oneOf
    ? nested.oneOf.map((alt, i) => row(`option ${i + 1}`, alt, false, doc, depth + 1))
    : Object.entries(nested.properties).map(([name, prop]) => row(name, prop, required.has(name), doc, depth + 1));
  return h('ul.schema', {}, rows);
}

function row(name, schema, required, doc, depth) {
  const s = resolve(schema, doc);
  return h('li', {},
    h('div.prop', {},
      h('code.name', {}, name),
      h('span.type', {}, typeOf(s, doc)),
      required && h('span.required', {}, 'required'),
      facets(s)),
    s.description && h('div.desc', {}, s.description),
    children(s, doc, depth));
}

/** A schema as an element: its type and constraints, then one row per property, nested. */
export function schemaView(schema, doc) {
  const s = resolve(schema, doc);
  return h('div.schema-root', {},
    h('div.prop', {}, h('span.type', {}, typeOf(s, doc)), facets(s)),
    s.description && h('div.desc', {}, s.description),
    children(s, doc, 0) ?? '');
}

/** A plausible value of `schema`: its own example or default, else one built from its parts. */
export function example(schema, doc, depth = 0) {
  const s = resolve(schema, doc);
  if (s.examples?.length) return s.examples[0];
  for (const key of ['default', 'const']) if (s[key] !== undefined) return s[key];
  if (s.enum?.length) return s.enum[0];
  if (s.oneOf?.length) return example(s.oneOf[0], doc, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (depth > MAX_DEPTH) return null;
  switch (type) {
    case 'object': {
      // What must be there, else what the document gives an example of: a body to start from.
      const props = Object.entries(s.properties ?? {});
      const wanted = s.required?.length ? props.filter(([name]) => s.required.includes(name))
        : props.filter(([, prop]) => resolve(prop, doc).examples?.length);
      return Object.fromEntries(wanted.map(([name, prop]) => [name, example(prop, doc, depth + 1)]));
    }
    case 'array': return s.items ? [example(s.items, doc, depth + 1)] : [];
    case 'integer': case 'number': return s.minimum ?? 0;
    case 'boolean': return false;
    case 'null': return null;
    default: return s.format === 'uri' ? 'https://example.com/' : '';
  }
}
