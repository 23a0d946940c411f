/*
 * wasim: what a human sees on the fake WhatsApp Web page. Purely cosmetic except for the
 * `div[data-ref]` attribute (the full QR string, as the real page had it) and the retry button
 * `div[data-ref] > span > button` shown when the QR went idle.
 */
(function () {
  'use strict';

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function main() { return document.getElementById('wasim-main'); }

  function status(text) {
    const node = document.getElementById('wasim-status');
    if (node) node.textContent = text;
  }

  /** FNV-1a seeded xorshift: a stable pseudo-random module pattern for a string. */
  function pattern(text, size) {
    let h = 2166136261;
    for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    const cells = [];
    for (let i = 0; i < size * size; i++) {
      h ^= h << 13; h >>>= 0; h ^= h >>> 17; h ^= h << 5; h >>>= 0;
      cells.push(h & 1);
    }
    return cells;
  }

  function drawCode(canvas, text) {
    const size = 41, scale = 6, ctx = canvas.getContext('2d');
    canvas.width = canvas.height = (size + 8) * scale;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#122e31';
    const cells = pattern(text, size);
    const finder = (x, y) => x < 8 && y < 8 || x >= size - 8 && y < 8 || x < 8 && y >= size - 8;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (!finder(x, y) && cells[y * size + x]) ctx.fillRect((x + 4) * scale, (y + 4) * scale, scale, scale);
      }
    }
    for (const [fx, fy] of [[0, 0], [size - 7, 0], [0, size - 7]]) {
      ctx.fillRect((fx + 4) * scale, (fy + 4) * scale, 7 * scale, 7 * scale);
      ctx.fillStyle = '#fff';
      ctx.fillRect((fx + 5) * scale, (fy + 5) * scale, 5 * scale, 5 * scale);
      ctx.fillStyle = '#122e31';
      ctx.fillRect((fx + 6) * scale, (fy + 6) * scale, 3 * scale, 3 * scale);
    }
  }

  /** Show (or update in place) the QR for `qr`, the full QR string. */
  function qr(text) {
    status('To use WhatsApp on your computer, scan the QR code with your phone (simulator).');
    let box = main().querySelector('div[data-ref]');
    if (!box) {
      main().replaceChildren();
      box = el('div', { 'data-ref': text, class: 'qr' });
      box.append(el('canvas', { 'aria-label': 'Scan this QR code to link a device!' }));
      main().append(box, el('code', { id: 'wasim-qr-text' }));
    }
    box.setAttribute('data-ref', text);
    box.querySelectorAll('span').forEach((s) => s.remove());
    drawCode(box.querySelector('canvas'), text);
    document.getElementById('wasim-qr-text').textContent = text;
  }

  /** The QR expired: dim it and offer the reload button. */
  function idle(onReload) {
    status('QR code expired.');
    const box = main().querySelector('div[data-ref]');
    if (!box || box.querySelector('span')) return;
    const span = el('span');
    const button = el('button', { type: 'button' }, 'Click to reload QR code');
    button.addEventListener('click', onReload);
    span.append(button);
    box.append(span);
  }

  function progress(percent) {
    status('Loading your chats [' + percent + '%]');
    let bar = main().querySelector('progress');
    if (!bar) { main().replaceChildren(el('progress', { max: '100', value: '0' })); bar = main().querySelector('progress'); }
    bar.value = percent;
  }

  function connected(phone, pushname) {
    status('Connected');
    main().replaceChildren(el('div', { 'data-asset-intro-image-light': 'true', class: 'intro' },
      'WhatsApp (simulator) linked to +' + phone + (pushname ? ' (' + pushname + ')' : '')));
  }

  function note(text) { status(text); }

  window.__wasimUi = { qr, idle, progress, connected, note };
})();
