// DOM helpers shared by the pages. Everything from the API is rendered with
// textContent (never as HTML): device names and user agents are chosen by
// whoever signs in, including attackers. The pages' CSP also enforces this
// with Trusted Types.

import { ApiError, reauthenticate } from './api.js';

/** $ returns the element with the id, or throws (a page bug). */
export function $(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`missing element #${id}`);
  return e;
}

/**
 * el builds an element: attrs are set as attributes (class, data-*, aria-*,
 * type...), except `text` (textContent) and `on*` functions (listeners).
 */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const UNITS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** relativeTime says when an RFC 3339 time was, e.g. "5 minutes ago". */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const secs = Math.round((t - now) / 1000);
  if (Math.abs(secs) < 60) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(secs) >= size) return rtf.format(Math.round(secs / size), unit);
  }
  return 'just now';
}

/** timeElement renders a <time> with a relative text and the exact time as tooltip. */
export function timeElement(iso) {
  const exact = new Date(iso);
  return el('time', { datetime: iso, title: exact.toLocaleString(), text: relativeTime(iso) });
}

/** absoluteTime renders a time in the viewer's locale. */
export function absoluteTime(iso) {
  const d = new Date(iso);
  return el('time', { datetime: iso, text: d.toLocaleString() });
}

/** setMessage shows text in a message element (empty hides it). */
export function setMessage(id, text) {
  $(id).textContent = text || '';
}

/** describeError turns an API failure into a sentence for people. */
export function describeError(err) {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'invalid_credentials': return 'That password is not right.';
      case 'rate_limited': return 'Too many attempts. Wait a minute and try again.';
      case 'overloaded':
      case 'unavailable': return 'The service is busy or unavailable. Try again shortly.';
      case 'forbidden': return 'Your account is not allowed to do this.';
      case 'not_found': return 'It no longer exists (it may have been removed already).';
      default: return err.message;
    }
  }
  return 'The request failed. Check your connection and try again.';
}

/** signedOutMessage explains why the page went back to the sign-in form. */
export function signedOutMessage(code) {
  switch (code) {
    case 'session_revoked':
    case 'refresh_token_reused':
      return 'You were signed out: this session was ended from another device, by an administrator, or for security reasons. Sign in again.';
    case 'token_expired':
      return 'Your session expired. Sign in again.';
    case 'logout':
      return 'You signed out.';
    default:
      return '';
  }
}

/**
 * askPassword opens the re-authentication dialog (#reauth) and resolves
 * true once POST /v1/auth/reauthenticate accepted the password, or false
 * when the user cancels.
 */
export function askPassword(reason) {
  const dialog = $('reauth');
  const form = $('reauth-form');
  const input = $('reauth-password');
  const cancel = $('reauth-cancel');
  $('reauth-reason').textContent = reason || 'For your security, enter your password to continue.';
  setMessage('reauth-error', '');
  input.value = '';
  return new Promise((resolve) => {
    const done = (ok) => {
      form.removeEventListener('submit', submit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      input.value = '';
      if (dialog.open) dialog.close();
      resolve(ok);
    };
    const submit = async (ev) => {
      ev.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        await reauthenticate(input.value);
        done(true);
      } catch (err) {
        if (err instanceof ApiError && err.signedOut) {
          done(false);
          return;
        }
        setMessage('reauth-error', describeError(err));
        input.select();
      } finally {
        button.disabled = false;
      }
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      done(false);
    };
    form.addEventListener('submit', submit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    input.focus();
  });
}

/** busy disables a button while the promise runs. */
export async function busy(button, fn) {
  button.disabled = true;
  try {
    return await fn();
  } finally {
    button.disabled = false;
  }
}
