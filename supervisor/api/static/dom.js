// Tiny DOM helpers: elements are built with properties and text, never from HTML strings,
// so nothing that comes from the API (ids, errors, message texts) can inject markup.

/** h('button.primary', {type: 'button', onclick}, 'Start') → an element. */
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('aria-') || key === 'role' || key === 'for' || key === 'list') {
      el.setAttribute(key, value === true ? 'true' : value);
    } else el[key] = value;
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings, arrays, null) to an element. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Set text only when it changed (keeps selections and screen readers quiet). */
export function setText(el, text) {
  const value = text === null || text === undefined ? '' : String(text);
  if (el.textContent !== value) el.textContent = value;
}
