// The login form: the key is checked against the API, then kept in sessionStorage (this tab
// only; closing it forgets the key). The server never puts the key in the page.

import {ApiError, auth, get} from './api.js';
import {h} from './dom.js';

/** Show the form in `main`; resolves once a key was accepted. */
export function login(main, message = '') {
  return new Promise((resolve) => {
    const input = h('input', {
      id: 'api-key', name: 'key', type: 'password', required: true, autocomplete: 'off',
      spellcheck: false, 'aria-describedby': 'api-key-hint login-error',
    });
    const error = h('p.error', {id: 'login-error', role: 'alert'}, message);
    const button = h('button.primary', {type: 'submit'}, 'Sign in');
    const form = h('form.login-form', {'aria-labelledby': 'login-title'},
      h('h1', {id: 'login-title'}, h('span.brand-mark', {'aria-hidden': 'true'}, '◎'), ' zapvisor'),
      h('p.lead', {}, 'Sign in with the daemon\'s API key.'),
      h('div.field', {},
        h('label', {for: 'api-key'}, 'API key'),
        input,
        h('p.hint', {id: 'api-key-hint'},
          'It is in var/api_key (or [server] api_key_file); the daemon printed it once when it ',
          'created it. It is kept in this browser tab only.')),
      error,
      button);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const key = input.value.trim();
      button.disabled = true;
      error.textContent = '';
      input.removeAttribute('aria-invalid');
      try {
        await get('/api/stats', {key});
        auth.set(key);
        resolve();
      } catch (err) {
        const refused = err instanceof ApiError && err.status === 401;
        error.textContent = refused ? 'This key was refused.' : `Cannot sign in: ${err.message}`;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        input.select();
      } finally {
        button.disabled = false;
      }
    });
    document.title = 'Sign in · zapvisor';
    main.replaceChildren(h('section.login', {}, form));
    input.focus();
  });
}
