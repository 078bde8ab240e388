// The authd API in cookie mode, for the account and admin pages.
//
// The access token lives in this module's memory only; the refresh token is
// the HttpOnly cookie that the page never sees. Refreshing rotates the
// cookie, so two refreshes that present the same cookie would look like a
// replayed token to the server (SECURITY.md F1). Two rules prevent that:
//   - within a tab, every caller shares one in-flight refresh (a promise);
//   - across tabs, refreshes run one at a time under a Web Lock, so the
//     second tab sends the cookie that the first tab's refresh just set.
// A BroadcastChannel tells the other tabs when this tab signs in or out.
//
// DPoP (RFC 9449): the page keeps a non-extractable ECDSA P-256 key in
// IndexedDB and signs a proof with it for every login, refresh, logout and
// API call, so the session is bound to this browser: a copied refresh
// cookie or access token is useless anywhere else. Without WebCrypto or
// IndexedDB the page signs in unbound, as before.

const LOCK_NAME = 'authd-refresh';
const CHANNEL_NAME = 'authd-session';

/** ApiError is a failed API call with the problem's stable code. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = (problem && problem.code) || '';
    // signedOut is set when the session is gone and the page has already
    // been told (onSignedOut); callers need not report it again.
    this.signedOut = false;
    // retryAfter is the Retry-After of a 429, in seconds (0: none).
    this.retryAfter = 0;
  }
}

/** errorOf builds the ApiError of a failed response, with its Retry-After. */
async function errorOf(res) {
  const err = new ApiError(res.status, await problemOf(res));
  err.retryAfter = Math.max(0, parseInt(res.headers.get('Retry-After') || '0', 10) || 0);
  return err;
}

let accessToken = null;
let tokenType = 'Bearer';
let session = null; // {session_id, user}
let inflight = null;
const signedOutHandlers = [];
const signedInHandlers = [];
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL_NAME) : null;

if (channel) {
  channel.addEventListener('message', (ev) => {
    const msg = ev.data || {};
    if (msg.type === 'signed-out') {
      // Another tab signed out or found the session dead: the cookie is gone
      // for this tab too.
      accessToken = null;
      session = null;
      signedOutHandlers.forEach((fn) => fn(msg.code || 'logout'));
    } else if (msg.type === 'signed-in' && !accessToken) {
      signedInHandlers.forEach((fn) => fn());
    }
  });
}

/** onSignedOut registers fn(code), called when the session ends. */
export function onSignedOut(fn) { signedOutHandlers.push(fn); }

/** onSignedInElsewhere registers fn(), called when another tab signs in. */
export function onSignedInElsewhere(fn) { signedInHandlers.push(fn); }

/** currentSession returns {session_id, user} of the signed-in session. */
export function currentSession() { return session; }

function endSession(code, broadcast) {
  accessToken = null;
  session = null;
  if (broadcast && channel) channel.postMessage({ type: 'signed-out', code });
  signedOutHandlers.forEach((fn) => fn(code));
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

function withRefreshLock(fn) {
  if (navigator.locks && typeof navigator.locks.request === 'function') {
    return navigator.locks.request(LOCK_NAME, fn);
  }
  return fn();
}

function accept(body) {
  accessToken = body.access_token;
  tokenType = body.token_type === 'DPoP' ? 'DPoP' : 'Bearer';
  session = { session_id: body.session_id, user: body.user };
}

// --- DPoP ---------------------------------------------------------------

const KEY_DB = 'authd-dpop';
const KEY_STORE = 'keys';
const KEY_ID = 'device';
let keyPromise = null;
let dpopNonce = null;

function idb(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(KEY_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(KEY_STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(KEY_STORE, mode);
      const req = fn(tx.objectStore(KEY_STORE));
      tx.oncomplete = () => { db.close(); resolve(req.result); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    };
  });
}

function b64url(bytes) {
  let s = '';
  new Uint8Array(bytes).forEach((b) => { s += String.fromCharCode(b); });
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const utf8 = (s) => new TextEncoder().encode(s);

// deviceKey returns {privateKey, jwk}: the key pair kept in IndexedDB
// (created once, under a Web Lock so two tabs never make two), or null
// where the browser cannot keep one.
function deviceKey() {
  if (!keyPromise) {
    keyPromise = (async () => {
      if (!(window.crypto && crypto.subtle && window.indexedDB)) return null;
      const load = async () => {
        let pair = await idb('readonly', (st) => st.get(KEY_ID));
        if (!pair) {
          // extractable false: the private key can sign, never be read out.
          pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
          await idb('readwrite', (st) => st.put(pair, KEY_ID));
        }
        const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
        return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
      };
      if (navigator.locks && typeof navigator.locks.request === 'function') {
        return navigator.locks.request('authd-dpop-key', load);
      }
      return load();
    })().catch(() => null);
  }
  return keyPromise;
}

// proof signs a DPoP proof for method and path (and ath of token).
async function proof(method, path, token) {
  const key = await deviceKey();
  if (!key) return null;
  const url = new URL(path, location.href);
  const claims = {
    jti: b64url(crypto.getRandomValues(new Uint8Array(16))),
    htm: method,
    htu: url.origin + url.pathname,
    iat: Math.floor(Date.now() / 1000),
  };
  if (token) claims.ath = b64url(await crypto.subtle.digest('SHA-256', utf8(token)));
  if (dpopNonce) claims.nonce = dpopNonce;
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk };
  const input = `${b64url(utf8(JSON.stringify(header)))}.${b64url(utf8(JSON.stringify(claims)))}`;
  // WebCrypto's ECDSA signature is r || s, the JWS form (RFC 7518 §3.4).
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, utf8(input));
  return `${input}.${b64url(sig)}`;
}

// dpopFetch sends a request with a fresh proof in headers.DPoP, once more
// with the server's nonce when it asks for one (use_dpop_nonce).
async function dpopFetch(path, init, token) {
  const send = async () => {
    const p = await proof(init.method, path, token);
    if (p) init.headers.DPoP = p;
    const res = await fetch(path, init);
    const n = res.headers.get('DPoP-Nonce');
    if (n) dpopNonce = n;
    return res;
  };
  const res = await send();
  if ((res.status === 400 || res.status === 401) && res.headers.get('DPoP-Nonce')) {
    const problem = await problemOf(res.clone());
    if (problem && problem.code === 'use_dpop_nonce') return send();
  }
  return res;
}

// Codes that mean the refresh cookie is dead for good.
const DEAD = new Set(['invalid_token', 'token_expired', 'refresh_token_reused', 'session_revoked']);

/**
 * refresh trades the refresh cookie for a new access token (and a rotated
 * cookie). Concurrent callers in this tab share one request; tabs take
 * turns under a Web Lock.
 */
export function refresh() {
  if (!inflight) {
    inflight = withRefreshLock(async () => {
      const res = await dpopFetch('/v1/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-Requested-With': 'fetch' },
      });
      if (!res.ok) {
        const err = await errorOf(res);
        if (res.status === 401 && DEAD.has(err.code)) {
          err.signedOut = true;
          // Only a session that existed is news for the other tabs.
          endSession(err.code, session !== null && err.code !== 'invalid_token');
        }
        throw err;
      }
      accept(await res.json());
      return session;
    }).finally(() => { inflight = null; });
  }
  return inflight;
}

/** signIn logs in with the refresh token delivered as the HttpOnly cookie. */
export async function signIn(email, password) {
  const res = await dpopFetch('/v1/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password, token_delivery: 'cookie' }),
  });
  if (!res.ok) throw await errorOf(res);
  accept(await res.json());
  if (channel) channel.postMessage({ type: 'signed-in' });
  return session;
}

/** signOut ends this session and clears the cookie. */
export async function signOut() {
  try {
    await dpopFetch('/v1/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-Requested-With': 'fetch' },
    });
  } finally {
    endSession('logout', true);
  }
}

// Access-token failures that a refresh can cure.
const RETRY = new Set(['invalid_token', 'token_expired', 'session_revoked']);

/**
 * request calls the API with the access token, refreshing once on a 401.
 * It returns the Response (ok), or throws an ApiError.
 */
export async function request(method, path, body, extraHeaders) {
  if (!accessToken) await refresh();
  const send = () => {
    const headers = Object.assign({ Authorization: `${tokenType} ${accessToken}` }, extraHeaders || {});
    const init = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (tokenType === 'DPoP') return dpopFetch(path, init, accessToken);
    return fetch(path, init);
  };
  let res = await send();
  if (res.status === 401) {
    const problem = await problemOf(res.clone());
    if (problem && RETRY.has(problem.code)) {
      await refresh();
      res = await send();
    }
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && RETRY.has(err.code)) {
      err.signedOut = true;
      endSession(err.code, true);
    }
    throw err;
  }
  return res;
}

/** api is request that decodes the JSON answer (null for 204). */
export async function api(method, path, body) {
  const res = await request(method, path, body);
  if (res.status === 204) return null;
  return res.json();
}

/** reauthenticate swaps the access token for a fresh one (password). */
export async function reauthenticate(password) {
  const res = await request('POST', '/v1/auth/reauthenticate', { password });
  const body = await res.json();
  accessToken = body.access_token;
  tokenType = body.token_type === 'DPoP' ? 'DPoP' : 'Bearer';
}

/**
 * withFreshToken runs fn; when the API wants a fresh token, it asks for
 * the password with askPassword() (null: cancelled), re-authenticates and
 * runs fn again.
 */
export async function withFreshToken(fn, askPassword) {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'fresh_token_required') throw err;
    const ok = await askPassword();
    if (!ok) return undefined;
    return fn();
  }
}
