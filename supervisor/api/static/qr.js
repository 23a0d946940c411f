// A session's QR code, large and sharp: shown at a whole number of device pixels per module
// (a QR scaled by 1.4 has modules of uneven widths, which phones read badly), and replaced as
// WhatsApp renews it. The PNG comes with its width in modules (GET …/qr?format=json).

import {ApiError, get, sessionPath} from './api.js';
import {h} from './dom.js';
import {store} from './store.js';
import {dismissToasts, report} from './ui.js';

const MAX_REM = 26; // the largest the code is drawn, in rem

/** Set `img` (a QR of `modules` modules) to the largest sharp size that fits `box`. */
export function fitQr(img, box, modules) {
  if (!modules || !box.isConnected) return;
  const style = getComputedStyle(box);
  const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const dpr = window.devicePixelRatio || 1;
  const perModule = Math.max(1, Math.floor((Math.min(room - 2, MAX_REM * rem) * dpr) / modules));
  const size = `${(perModule * modules) / dpr}px`;
  img.style.width = size;
  img.style.height = size;
  img.dataset.modules = String(modules);
}

/**
 * The QR figure of session `id`: {figure, load(), hide(), shown()}. `box` is the element whose
 * width the code may take; `onShown()` is called when a code appears.
 */
export function qrFigure(id, box, onShown) {
  const img = h('img.qr', {id: 'qr', alt: `QR code to link WhatsApp to session ${id}`});
  const figure = h('figure.qr-figure', {id: 'qr-figure', hidden: true}, img,
    h('figcaption', {},
      h('strong', {}, 'Scan with WhatsApp on the phone: '),
      'Settings → Linked devices → Link a device. ',
      'The code changes every few seconds; this page follows it.'));
  let shown = false; // a QR of the current SCAN_QR_CODE period is on screen
  let loading = false;
  let again = false;
  let version = 0;
  let modules = 0;
  let closed = false;

  const fit = () => fitQr(img, box, modules);
  img.addEventListener('load', fit);
  const watcher = new ResizeObserver(fit);
  watcher.observe(box);

  const hide = () => {
    shown = false;
    figure.hidden = true;
    img.removeAttribute('src');
    delete figure.dataset.qr;
  };

  // The QR's text and picture, one after the other; a newer QR during the load loads again.
  const load = async () => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const raw = await get(sessionPath(id, 'qr?format=raw'));
      const png = await get(sessionPath(id, 'qr?format=json'));
      if (closed || store.sessions.get(id)?.state !== 'SCAN_QR_CODE') return;
      modules = png.modules;
      img.src = `data:${png.mimetype};base64,${png.data}`;
      version += 1;
      Object.assign(figure.dataset, {qr: raw.value, version: String(version)});
      shown = true;
      figure.hidden = false;
      fit();
      dismissToasts(id); // "Starting …" has happened: the code is what matters now
      onShown();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) report(err, `QR code of ${id}`);
    } finally {
      loading = false;
      if (again && !closed) {
        again = false;
        load();
      }
    }
  };

  const close = () => {
    closed = true;
    watcher.disconnect();
  };
  return {figure, load, hide, close, shown: () => shown};
}
