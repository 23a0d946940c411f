/*
 * wasim: media on the fake WhatsApp Web page, both builds: preparing, uploading and downloading.
 *
 * Module and function names are the ones whatsapp-web.js drives on the real page
 * (src/util/Injected/Utils.js processMediaData, v1.34.7):
 *   WAWebMediaOpaqueData.createFromData(file, mimetype) -> OpaqueData (url(), autorelease())
 *   WAWebPrepRawMedia.prepRawMedia(opaque, {asDocument, isPtt, asSticker, asGif}).waitForPrep()
 *     -> a MediaData model (type, mimetype, filehash, size, mediaBlob, preview; set(), toJSON())
 *   WAWebMediaStorage.getOrCreateMediaObject(filehash) -> {filehash, size, consolidate(json)}
 *   WAWebMmsMediaTypes.msgToMediaType({type, isGif})
 *   WAWebMediaMmsV4Upload.uploadMedia({mimetype, mediaObject, mediaType}) -> {mediaEntry:
 *     {mmsUrl, directPath, mediaKey, mediaKeyTimestamp, encFilehash, uploadHash}}
 * and src/structures/Message.js downloadMedia:
 *   WAWebDownloadManager.downloadManager.downloadAndMaybeDecrypt({directPath, mediaKey, ...})
 *     -> ArrayBuffer of the decrypted file.
 * WhatsApp's media servers (mmg.whatsapp.net) are the simulator's /_sim/mms routes. Encryption
 * is not modelled: the server keeps the plain bytes under the directPath it hands out.
 */
(function () {
  'use strict';
  const M = window.__wasimModels;

  class OpaqueData {
    constructor(blob, type) { this.blob = blob; this.type = type || blob.type; this._url = null; }
    static async createFromData(data, mimetype) {
      const blob = data instanceof Blob ? data : new Blob([data], { type: mimetype });
      return new OpaqueData(blob, mimetype || blob.type);
    }
    url() { if (!this._url) this._url = URL.createObjectURL(this.blob); return this._url; }
    autorelease() { if (this._url) URL.revokeObjectURL(this._url); this._url = null; }
    formData() { return this.blob; }
  }

  function b64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  /** The message type WhatsApp Web gives a file, as prepRawMedia decides it. */
  function typeOf(mimetype, params) {
    if (params.asDocument) return 'document';
    if (params.asSticker) {
      if (mimetype !== 'image/webp') throw new Error('Invalid media type: stickers are image/webp');
      return 'sticker';
    }
    if (params.isPtt) {
      if (!mimetype.startsWith('audio/')) throw new Error('Invalid media type: a voice note is audio');
      return 'ptt';
    }
    for (const kind of ['image', 'video', 'audio']) if (mimetype.startsWith(kind + '/')) return kind;
    return 'document';
  }

  function prepRawMedia(opaque, params) {
    const prepared = (async () => {
      const bytes = new Uint8Array(await opaque.blob.arrayBuffer());
      const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const type = typeOf(opaque.type, params || {});
      const data = new M.Model({ type, mimetype: opaque.type, filehash: b64(hash), size: bytes.length,
        mediaBlob: opaque, isGif: !!(params && params.asGif), filename: opaque.blob.name || undefined,
        preview: type === 'image' || type === 'video' ? window.__wasimIncoming.thumbnail(type) : undefined });
      data.toJSON = () => {
        const out = {};
        for (const [k, v] of Object.entries(data)) if (typeof v !== 'function') out[k] = v;
        return out;
      };
      return data;
    })();
    return { waitForPrep: () => prepared };
  }

  function build(core) {
    const objects = new Map();
    function getOrCreateMediaObject(filehash) {
      if (!objects.has(filehash)) {
        const object = { filehash, size: 0, type: undefined, contentInfo: {},
          consolidate(json) { Object.assign(this, json); } };
        objects.set(filehash, object);
      }
      return objects.get(filehash);
    }

    async function uploadMedia(args) {
      const object = args.mediaObject;
      if (!object || !object.mediaBlob) throw new Error('media-fault: nothing to upload');
      const answer = await fetch('/_sim/mms/upload?type=' + encodeURIComponent(args.mediaType), {
        method: 'POST', body: object.mediaBlob.blob, headers: { 'Content-Type': args.mimetype } });
      if (!answer.ok) throw new Error('upload failed: HTTP ' + answer.status);
      const entry = await answer.json();
      const key = b64(crypto.getRandomValues(new Uint8Array(32)));
      return { mediaEntry: { mmsUrl: 'https://mmg.whatsapp.net' + entry.direct_path, directPath: entry.direct_path,
        deprecatedMms3Url: 'https://mmg.whatsapp.net' + entry.direct_path, mediaKey: key,
        mediaKeyTimestamp: Math.floor(Date.now() / 1000), encFilehash: entry.enc_filehash, uploadHash: entry.enc_filehash } };
    }

    async function downloadAndMaybeDecrypt(args) {
      const answer = await fetch('/_sim/mms?path=' + encodeURIComponent(args.directPath || ''));
      if (!answer.ok) {
        const error = new Error('media download failed: HTTP ' + answer.status);
        error.status = answer.status;
        throw error;
      }
      return answer.arrayBuffer();
    }

    return {
      WAWebMediaOpaqueData: OpaqueData,
      WAWebPrepRawMedia: { prepRawMedia },
      WAWebMediaStorage: { getOrCreateMediaObject },
      WAWebMmsMediaTypes: { msgToMediaType: (m) => (m.isGif ? 'gif' : m.type), castToV4: (t) => t },
      WAWebMediaMmsV4Upload: { uploadMedia },
      WAWebDownloadManager: { downloadManager: { downloadAndMaybeDecrypt } },
    };
  }

  window.__wasimMedia = { build, OpaqueData };
})();
