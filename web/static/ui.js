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
  // Only past times are shown this way; a server clock a little ahead
  // must not read "in 2 minutes".
  if (secs > -60) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(secs) >= size) return rtf.format(Math.round(secs / size), unit);
  }
  return 'just now';
}

const exactFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** exactTime is the viewer's local date and time of an RFC 3339 time. */
export function exactTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : exactFormat.format(new Date(t));
}

function fillTime(e) {
  const iso = e.getAttribute('datetime');
  const rel = relativeTime(iso);
  const exact = exactTime(iso);
  e.title = exact;
  // Sighted people read the relative time and hover for the exact one;
  // screen readers get both in one phrase.
  e.replaceChildren(el('span', { 'aria-hidden': 'true', text: rel }), el('span', { class: 'sr-only', text: `${rel} (${exact})` }));
}

/**
 * timeElement renders a <time> with a relative text ("5 minutes ago") that
 * updates while the page is open, and the exact time on hover and for
 * screen readers.
 */
export function timeElement(iso) {
  const e = el('time', { datetime: iso, 'data-relative': '' });
  if (Number.isNaN(Date.parse(iso))) {
    e.textContent = 'unknown';
    return e;
  }
  fillTime(e);
  return e;
}

// One timer keeps every relative time on the page current. Nothing here is
// a live region, so the updates are not announced.
setInterval(() => {
  for (const e of document.querySelectorAll('time[data-relative]')) fillTime(e);
}, 10000);

/** absoluteTime renders a time in the viewer's locale. */
export function absoluteTime(iso) {
  return el('time', { datetime: iso, text: exactTime(iso) });
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
      case 'rate_limited': return err.retryAfter > 0
        ? `Too many attempts. You can try again in ${waitText(err.retryAfter)}.`
        : 'Too many attempts. Wait a minute and try again.';
      case 'overloaded':
      case 'unavailable': return 'The service is busy or unavailable. Try again shortly.';
      case 'forbidden': return 'Your account is not allowed to do this.';
      case 'not_found': return 'It no longer exists (it may have been removed already).';
      default: return err.message;
    }
  }
  return 'The request failed. Check your connection and try again.';
}

/** waitText says how long a wait of secs seconds is ("1 minute 5 seconds"). */
export function waitText(secs) {
  const m = Math.floor(secs / 60);
  const s = secs % 60;
  const parts = [];
  if (m) parts.push(m === 1 ? '1 minute' : `${m} minutes`);
  if (s || !m) parts.push(s === 1 ? '1 second' : `${s} seconds`);
  return parts.join(' ');
}

/**
 * signedOutMessage explains why the page went back to the sign-in form,
 * from the error code of the refresh that failed. wasSignedIn tells a
 * session that ended while the page was open from a first visit.
 */
export function signedOutMessage(code, wasSignedIn) {
  switch (code) {
    case 'session_revoked':
      return 'This device was signed out from another device. Sign in again.';
    case 'refresh_token_reused':
      return 'Signed out after a reuse of an old refresh token: someone may have copied this device\'s sign-in. Sign in again, then check your devices and change your password.';
    case 'token_expired':
      return 'Your session ended on this device. Sign in again.';
    case 'invalid_token':
      return wasSignedIn ? 'Your session ended on this device. Sign in again.' : '';
    case 'logout':
      return 'You signed out.';
    default:
      return '';
  }
}

/**
 * announce tells screen readers about a change, once, through the page's
 * one polite live region (#announcer), which holds nothing else.
 */
export function announce(text) {
  const region = $('announcer');
  region.textContent = '';
  // A new text node in a later task is announced even when the text is
  // the same as the last one.
  setTimeout(() => { region.textContent = text; }, 50);
}

/**
 * showResult puts the result of an action in the message element msgId
 * and makes sure the person sees and hears it once: either focus moves to
 * focusEl (the element that changed) and the text is announced, or, with
 * no focusEl, focus moves to the message itself, which reads it.
 */
export function showResult(msgId, text, focusEl) {
  const msg = $(msgId);
  msg.textContent = text;
  if (!msg.hasAttribute('tabindex')) msg.setAttribute('tabindex', '-1');
  const target = focusEl && focusEl.isConnected ? focusEl : msg;
  target.focus({ preventScroll: true });
  if (target !== msg) announce(text);
  msg.scrollIntoView({ block: 'nearest' });
  target.scrollIntoView({ block: 'nearest' });
}

/**
 * openModal shows dialog as a modal with focus on first and the listeners
 * ([target, type, fn]) it needs while open. It returns close, which removes
 * them, closes the dialog and gives focus back to the control that had it
 * (the opener).
 */
function openModal(dialog, first, listeners) {
  const opener = document.activeElement;
  for (const [target, type, fn] of listeners) target.addEventListener(type, fn);
  dialog.showModal();
  first.focus();
  return () => {
    for (const [target, type, fn] of listeners) target.removeEventListener(type, fn);
    if (dialog.open) dialog.close();
    if (opener && opener.isConnected && opener !== document.body) opener.focus();
  };
}

/**
 * confirmAction asks in the #confirm dialog before a destructive action
 * and resolves true when confirmed. Focus returns to the control that
 * opened it.
 */
export function confirmAction({ title, text, confirm }) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  const yes = $('confirm-yes');
  const no = $('confirm-no');
  yes.textContent = confirm;
  return new Promise((resolve) => {
    let close = null;
    const done = (ok) => {
      close();
      resolve(ok);
    };
    const onNo = (ev) => {
      ev.preventDefault();
      done(false);
    };
    close = openModal(dialog, no, [[yes, 'click', () => done(true)], [no, 'click', onNo], [dialog, 'cancel', onNo]]);
  });
}

const SVG = 'http://www.w3.org/2000/svg';
const ICONS = {
  phone: ['M7 2h10a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z', 'M11 18h2'],
  tablet: ['M5 3h14a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z', 'M11 18h2'],
  computer: ['M4 5h16a1 1 0 0 1 1 1v10H3V6a1 1 0 0 1 1-1z', 'M1 19h22'],
  unknown: ['M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z', 'M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .8-1 1.5V14', 'M12 17h.01'],
};

/** platformIcon draws a device kind (phone, tablet, computer, unknown) as inline SVG. */
export function platformIcon(kind) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '28');
  svg.setAttribute('height', '28');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${kind}`);
  for (const d of ICONS[kind] || ICONS.unknown) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** deviceKind guesses the kind of device from a user agent and OS. */
export function deviceKind(userAgent, os) {
  const ua = userAgent || '';
  if (/iPad|Tablet|Nexus (7|9|10)|SM-T\d/.test(ua) || (/Android/.test(ua) && !/Mobile/.test(ua))) return 'tablet';
  if (/iPhone|iPod|Mobile|Android/.test(ua) || /^(iOS|Android)$/.test(os || '')) return 'phone';
  if (/Windows|Macintosh|Mac OS X|X11|Linux|CrOS/.test(ua) || /^(Windows|macOS|Linux|ChromeOS|Chrome OS)$/.test(os || '')) return 'computer';
  return 'unknown';
}

export const KIND_NAMES = { phone: 'Phone', tablet: 'Tablet', computer: 'Computer', unknown: 'Unknown kind of device' };

/** browserOnOS summarises a user agent for people ("Firefox on Linux"). */
export function browserOnOS(userAgent) {
  const ua = userAgent || '';
  const browser = [[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrome\//, 'Chrome'],
    [/Version\/[\d.]+.*Safari\//, 'Safari'], [/^curl\//, 'curl'], [/okhttp/i, 'an Android app'], [/Go-http-client/, 'a Go program']]
    .find(([re]) => re.test(ua));
  const os = [[/iPhone|iPad|iPod/, 'iOS'], [/Android/, 'Android'], [/Windows/, 'Windows'], [/Mac OS X|Macintosh/, 'macOS'],
    [/CrOS/, 'ChromeOS'], [/Linux|X11/, 'Linux']].find(([re]) => re.test(ua));
  const parts = [browser && browser[1], os && os[1]].filter(Boolean);
  return parts.length ? parts.join(' on ') : (ua ? 'an unknown browser' : 'an unknown device');
}

/** REASONS are the revocation reasons in plain words. */
export const REASONS = {
  reuse_detected: 'Old refresh token replayed',
  logout: 'Signed out on the device',
  user_revoked: 'Signed out from another device',
  revoked_others: 'Signed out with “all other devices”',
  password_changed: 'Password changed',
  admin_revoked: 'Signed out by an administrator',
  session_limit: 'Too many devices signed in',
};

/** reasonText is a revocation reason in plain words, with the raw code as tooltip. */
export function reasonText(code) {
  return el('span', { class: 'reason', title: code || '', 'data-code': code || '', text: REASONS[code] || code || 'Unknown reason' });
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
  let countdown = null;
  $('reauth-reason').textContent = reason || 'For your security, enter your password to continue.';
  setMessage('reauth-error', '');
  input.value = '';
  return new Promise((resolve) => {
    let close = null;
    const done = (ok) => {
      clearInterval(countdown);
      $('reauth-wait').textContent = '';
      form.querySelector('button[type=submit]').disabled = false;
      input.value = '';
      close();
      resolve(ok);
    };
    // A 429 says when to try again (Retry-After): count down to it, with
    // Continue disabled until then.
    const waitUntil = (secs) => {
      const button = form.querySelector('button[type=submit]');
      const wait = $('reauth-wait');
      const end = Date.now() + secs * 1000;
      // The alert is said once; the countdown beside it is not a live
      // region, so it does not talk every second.
      setMessage('reauth-error', `Too many attempts. You can try again in ${waitText(secs)}.`);
      const tick = () => {
        const left = Math.ceil((end - Date.now()) / 1000);
        if (left <= 0) {
          clearInterval(countdown);
          button.disabled = false;
          wait.textContent = '';
          setMessage('reauth-error', 'You can try again now.');
          return;
        }
        button.disabled = true;
        wait.textContent = `Try again in ${waitText(left)}`;
      };
      clearInterval(countdown);
      tick();
      countdown = setInterval(tick, 1000);
    };
    const submit = async (ev) => {
      ev.preventDefault();
      const button = form.querySelector('button[type=submit]');
      if (button.disabled) return;
      button.disabled = true;
      try {
        await reauthenticate(input.value);
        done(true);
      } catch (err) {
        if (err instanceof ApiError && err.signedOut) {
          done(false);
          return;
        }
        if (err instanceof ApiError && err.status === 429 && err.retryAfter > 0) {
          waitUntil(err.retryAfter);
          input.select();
          return;
        }
        setMessage('reauth-error', describeError(err));
        input.select();
      }
      button.disabled = false;
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      done(false);
    };
    close = openModal(dialog, input, [[form, 'submit', submit], [cancel, 'click', onCancel], [dialog, 'cancel', onCancel]]);
  });
}

/**
 * busy disables a button while the promise runs. A disabled button loses
 * focus to <body>; when nothing else took it meanwhile, it gets it back.
 */
export async function busy(button, fn) {
  button.disabled = true;
  try {
    return await fn();
  } finally {
    button.disabled = false;
    const f = document.activeElement;
    // (A closed dialog can still hold focus for a moment: not visible.)
    if (button.isConnected && (!f || f === document.body || !f.getClientRects().length)) button.focus();
  }
}
