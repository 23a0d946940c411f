// The control API, with the key the user typed (kept in this tab's sessionStorage only).
// A 401 anywhere forgets the key and sends the user back to the login form.

const KEY = 'zapvisor.apiKey';

export const auth = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

/** Forget the key and tell the app (it shows the login form). */
export function unauthorized(message = 'The API key was refused. Sign in again.') {
  auth.clear();
  window.dispatchEvent(new CustomEvent('zv:unauthorized', {detail: {message}}));
}

/** Headers for a request with `key` (default: the stored one). */
export function keyHeaders(key = auth.key, extra = {}) {
  return {'X-Api-Key': key ?? '', ...extra};
}

/** One JSON request; ApiError with the API's own type and message when it fails. */
export async function api(method, path, body, {key, signal} = {}) {
  const headers = keyHeaders(key ?? auth.key, {Accept: 'application/json'});
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, signal, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NetworkError', 'The daemon cannot be reached.');
  }
  const data = await resp.json().catch(() => null);
  if (resp.status === 401) {
    if (key === undefined) unauthorized();
    throw new ApiError(401, 'Unauthorized', data?.error?.message ?? 'Unauthorized');
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, data?.error?.type ?? 'Error', data?.error?.message ?? resp.statusText);
  }
  return data;
}

export const get = (path, options) => api('GET', path, undefined, options);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

/** Path of a session's route: /api/sessions/<id>/<rest>. */
export function sessionPath(id, rest = '') {
  return `/api/sessions/${encodeURIComponent(id)}${rest ? `/${rest}` : ''}`;
}

/** POST a multipart form (a file to send); ApiError like `api` when it fails. */
export async function upload(path, form) {
  const resp = await fetch(path, {method: 'POST', headers: keyHeaders(auth.key, {Accept: 'application/json'}),
    body: form, cache: 'no-store'}).catch(() => { throw new ApiError(0, 'NetworkError', 'The daemon cannot be reached.'); });
  const data = await resp.json().catch(() => null);
  if (resp.status === 401) unauthorized();
  if (!resp.ok) throw new ApiError(resp.status, data?.error?.type ?? 'Error', data?.error?.message ?? resp.statusText);
  return data;
}

/** A file of the API as a Blob (the key goes in a header, never in a link). */
export async function blob(path) {
  const resp = await fetch(path, {headers: keyHeaders(), cache: 'no-store'});
  if (resp.status === 401) unauthorized();
  if (!resp.ok) {
    const data = await resp.json().catch(() => null);
    throw new ApiError(resp.status, data?.error?.type ?? 'Error', data?.error?.message ?? resp.statusText);
  }
  return resp.blob();
}
