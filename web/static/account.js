// /account: the signed-in devices of the user, their recent security
// activity and the password change.

import { ApiError, api, request, reauthenticate, withFreshToken, signOut, currentSession } from './api.js';
import {
  $, el, timeElement, exactTime, relativeTime, setMessage, describeError, askPassword, busy, announce, showResult,
  confirmAction, platformIcon, deviceKind, KIND_NAMES, browserOnOS, REASONS,
} from './ui.js';
import { startPage } from './signin.js';

const fail = (err) => {
  if (err instanceof ApiError && err.signedOut) return; // back on the sign-in form
  setMessage('page-error', describeError(err));
  $('page-error').scrollIntoView({ block: 'nearest' });
};

const fresh = (fn) => withFreshToken(fn, () => askPassword('Signing devices out needs your password again.'));

/** platform is "browser on OS" of a session. */
function platform(s) {
  return [s.browser, s.os].filter(Boolean).join(' on ');
}

/** deviceLabel is the name people know a device by. */
function deviceLabel(s) {
  return s.device_name || platform(s) || 'Unknown device';
}

/** confirmName names a device in a confirmation: "Pixel 8 · Chrome on Android". */
function confirmName(s) {
  const p = platform(s);
  return s.device_name && p && p !== s.device_name ? `${s.device_name} · ${p}` : deviceLabel(s);
}

// Half-typed device names survive a re-render and a sign-in again.
const drafts = new Map();
// The sessions of the list, by id, for the activity's wording.
let sessionsById = new Map();

function renderDevice(s) {
  const name = deviceLabel(s);
  const kind = deviceKind(s.user_agent, s.os);
  const li = el('li', { class: s.current ? 'device current' : 'device', 'data-session-id': s.id, 'data-kind': kind });

  const icon = el('span', { class: 'device-icon', title: KIND_NAMES[kind] }, platformIcon(kind),
    el('span', { class: 'sr-only', text: KIND_NAMES[kind] }));
  const title = el('div', { class: 'device-title' },
    el('h3', { class: 'device-name', text: name }),
    s.current ? el('span', { class: 'badge', text: 'This device' }) : null,
    // DPoP: the session's tokens work only with its device's key.
    s.dpop_bound ? el('span', { class: 'badge key-bound', text: s.current ? "Bound to this device's key" : "Bound to its device's key" }) : null);
  const p = platform(s);
  const meta = el('p', { class: 'device-meta' });
  const add = (parent, node) => {
    if (parent.childNodes.length) parent.append(' · ');
    parent.append(node);
  };
  // "browser on OS" only when the name does not say it already (the
  // default names, like "Safari on iPad", start with the browser).
  if (p && p !== name && !(s.browser && name.toLowerCase().includes(s.browser.toLowerCase()))) {
    add(meta, el('span', { class: 'device-platform', text: p }));
  }
  // "default" is what a login without client_id gets: no app to name.
  if (s.client_id && s.client_id !== 'default') add(meta, el('span', { class: 'device-app', text: `App: ${s.client_id}` }));
  add(meta, el('span', { class: 'device-ip', text: s.ip_prefix ? `Network ${s.ip_prefix}` : 'Network unknown' }));
  const times = el('p', { class: 'device-meta device-times' });
  add(times, el('span', { class: 'device-active' }, 'Last active ', timeElement(s.last_used_at)));
  add(times, el('span', { class: 'device-signedin' }, 'Signed in ', timeElement(s.created_at)));
  if (s.expires_at) add(times, el('span', { class: 'device-expires' }, 'Stays signed in until ', el('time', { datetime: s.expires_at, text: exactTime(s.expires_at) })));
  const info = el('div', { class: 'device-info' }, title, meta, times);

  const renameButton = el('button', { type: 'button', class: 'rename', 'aria-label': `Rename ${name}`, text: 'Rename' });
  const signoutButton = el('button', {
    type: 'button', class: 'signout danger',
    'aria-label': s.current ? `Sign out ${name} (this device)` : `Sign out ${name}`,
    text: 'Sign out',
  });
  const actions = el('div', { class: 'device-actions' }, renameButton, signoutButton);

  const inputId = `rename-${s.id}`;
  const input = el('input', { id: inputId, type: 'text', maxlength: 100, required: true, value: s.device_name || '' });
  const error = el('p', { class: 'error', role: 'alert' });
  const cancel = el('button', { type: 'button', text: 'Cancel' });
  const form = el('form', { class: 'rename-form', hidden: true, novalidate: true },
    el('label', { for: inputId, text: `New name for ${name}` }), input, error,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary', text: 'Save name' }), cancel));

  if (drafts.has(s.id)) {
    form.hidden = false;
    input.value = drafts.get(s.id);
  }
  input.addEventListener('input', () => drafts.set(s.id, input.value));
  renameButton.addEventListener('click', () => {
    form.hidden = false;
    input.value = s.device_name || '';
    input.focus();
    input.select();
  });
  cancel.addEventListener('click', () => {
    form.hidden = true;
    drafts.delete(s.id);
    error.textContent = '';
    renameButton.focus();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value || value.length > 100) {
      error.textContent = 'Enter a name of 1 to 100 characters.';
      return;
    }
    try {
      await busy(ev.submitter || form.querySelector('button[type=submit]'), () =>
        api('PATCH', `/v1/sessions/${encodeURIComponent(s.id)}`, { device_name: value }));
      drafts.delete(s.id);
      await loadDevices();
      // Focus goes to the renamed device (its Rename button).
      showResult('devices-status', `Renamed to “${value}”.`, document.querySelector(`#devices li[data-session-id="${CSS.escape(s.id)}"] button.rename`));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_request') error.textContent = 'Enter a name of 1 to 100 characters, without control characters.';
      else fail(err);
    }
  });

  signoutButton.addEventListener('click', async () => {
    if (s.current) {
      await signOut();
      return;
    }
    const ok = await confirmAction({
      title: 'Sign out this device?',
      text: `Sign out ${confirmName(s)}, last active ${relativeTime(s.last_used_at)}? It will need the password to sign in again.`,
      confirm: `Sign out ${name}`,
    });
    if (!ok) return;
    try {
      const done = await busy(signoutButton, () => fresh(() =>
        request('DELETE', `/v1/sessions/${encodeURIComponent(s.id)}`)));
      if (done === undefined) return; // password prompt cancelled
      await loadDevices();
      showResult('devices-status', `Signed out “${name}”.`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'not_found') {
        await loadDevices();
        showResult('devices-status', `“${name}” was already signed out.`);
        return;
      }
      fail(err);
    }
  });

  li.append(icon, info, actions, form);
  return li;
}

/** byRecency puts the current device first, then the most recently active. */
function byRecency(a, b) {
  if (a.current !== b.current) return a.current ? -1 : 1;
  return Date.parse(b.last_used_at) - Date.parse(a.last_used_at);
}

let loading = null;

/** loadDevices (re)draws the list; calls made meanwhile share one request. */
function loadDevices() {
  if (!loading) {
    loading = (async () => {
      try {
        const { sessions } = await api('GET', '/v1/sessions');
        sessions.sort(byRecency);
        sessionsById = new Map(sessions.map((s) => [s.id, s]));
        $('devices').replaceChildren(...sessions.map(renderDevice));
        const others = sessions.some((s) => !s.current);
        $('signout-others').hidden = !others;
        $('devices-empty').hidden = others;
      } catch (err) {
        fail(err);
      }
    })().finally(() => { loading = null; });
  }
  return loading;
}

// Recent security activity, in plain words.

const ACTIVITY_PAGE = 10;
let activityCursor = '';

function where(ev) {
  return ev.ip_prefix ? ` from ${ev.ip_prefix}` : '';
}

function sessionName(ev) {
  const s = ev.session_id && sessionsById.get(ev.session_id);
  return s ? deviceLabel(s) : '';
}

/** activityText says what an event of the user's own account means. */
export function activityText(ev) {
  const d = ev.details || {};
  const on = browserOnOS(ev.user_agent);
  switch (ev.type) {
    case 'user_registered': return 'Account created';
    case 'login_succeeded': return `Signed in on ${on}${where(ev)}`;
    case 'new_device_login': return `Signed in on a new device: ${on}${where(ev)}`;
    case 'login_failed':
      if (d.kind === 'reauthenticate') return `Wrong password when confirming it was you${where(ev)}`;
      if (d.kind === 'password_change') return 'Wrong current password when changing the password';
      return `Failed sign-in (wrong password) on ${on}${where(ev)}`;
    case 'password_changed': return 'Password changed';
    case 'rate_limited': return `Too many attempts, paused for a while${where(ev)}`;
    case 'role_changed': return d.new_role === 'admin' ? 'Made an administrator' : 'No longer an administrator';
    case 'refresh_retry_mismatch': return `A sign-in was renewed twice in a moment from different places${where(ev)}`;
    case 'session_revoked': {
      const name = sessionName(ev) || 'a device';
      if (ev.reason === 'reuse_detected') {
        const victim = d.last_legitimate_user_agent ? browserOnOS(d.last_legitimate_user_agent) : name;
        return `Someone used an old sign-in of ${victim}${d.replay_ip_prefix ? ` from ${d.replay_ip_prefix}` : ''} — that device was signed out`;
      }
      if (ev.reason === 'logout') return `Signed out on ${on}`;
      return `${REASONS[ev.reason] || 'Signed out'}: ${name === 'a device' ? on : name}`;
    }
    default: return ev.type.replaceAll('_', ' ');
  }
}

function renderActivity(ev) {
  const warn = ev.reason === 'reuse_detected' || ev.type === 'login_failed' || ev.type === 'refresh_retry_mismatch';
  return el('li', { class: warn ? 'activity-item warn' : 'activity-item', 'data-event-id': ev.id, 'data-type': ev.type, 'data-reason': ev.reason || null },
    el('span', { class: 'activity-text', text: activityText(ev) }), ' ',
    el('span', { class: 'muted activity-time' }, timeElement(ev.created_at)));
}

async function loadActivity(more) {
  try {
    const q = new URLSearchParams({ limit: String(ACTIVITY_PAGE) });
    if (more && activityCursor) q.set('cursor', activityCursor);
    const page = await api('GET', `/v1/me/security-events?${q}`);
    const items = page.events.map(renderActivity);
    if (more) $('activity').append(...items);
    else $('activity').replaceChildren(...items);
    activityCursor = page.next_cursor || '';
    $('activity-more').hidden = !activityCursor;
    $('activity-empty').hidden = $('activity').children.length > 0;
    if (more && items.length) {
      // Focus the first new item, so a keyboard user goes on reading there.
      items[0].setAttribute('tabindex', '-1');
      items[0].focus();
      announce(`${items.length} older event${items.length === 1 ? '' : 's'} shown.`);
    }
  } catch (err) {
    fail(err);
  }
}

$('activity-more').addEventListener('click', () => loadActivity(true));

$('signout-others').addEventListener('click', async (ev) => {
  const button = ev.currentTarget;
  const others = [...sessionsById.values()].filter((s) => !s.current);
  const ok = await confirmAction({
    title: 'Sign out all other devices?',
    text: others.length === 1
      ? `Sign out ${confirmName(others[0])}, last active ${relativeTime(others[0].last_used_at)}? This device stays signed in.`
      : `Sign out ${others.length} other devices (${others.map(deviceLabel).join(', ')})? This device stays signed in.`,
    confirm: 'Sign out other devices',
  });
  if (!ok) return;
  try {
    const res = await busy(button, () => fresh(() => api('DELETE', '/v1/sessions?scope=others')));
    if (res === undefined) return;
    const n = res.revoked;
    await loadDevices();
    showResult('devices-status', n === 1 ? 'Signed out 1 other device.' : `Signed out ${n} other devices.`);
  } catch (err) {
    fail(err);
  }
});

$('password-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const current = $('current-password').value;
  const next = $('new-password').value;
  const confirm = $('confirm-password').value;
  setMessage('password-error', '');
  setMessage('password-status', '');
  if (!current || !next) {
    setMessage('password-error', 'Enter your current password and a new one.');
    return;
  }
  if (next !== confirm) {
    setMessage('password-error', 'The two new passwords are not the same.');
    $('confirm-password').focus();
    return;
  }
  const change = () => request('POST', '/v1/me/password', { current_password: current, new_password: next });
  const button = ev.submitter || $('password-form').querySelector('button[type=submit]');
  try {
    await busy(button, async () => {
      try {
        await change();
      } catch (err) {
        // The current password the user just typed is what a
        // re-authentication asks for; no need to ask twice.
        if (!(err instanceof ApiError) || err.code !== 'fresh_token_required') throw err;
        await reauthenticate(current);
        await change();
      }
    });
    $('password-form').reset();
    await loadDevices();
    loadActivity(false);
    // Right under the form, focused: seen and heard where the person is.
    showResult('password-status', 'Password changed. Your other devices were signed out.');
  } catch (err) {
    if (err instanceof ApiError && err.signedOut) return;
    let text = describeError(err);
    if (err instanceof ApiError) {
      if (err.code === 'invalid_credentials') text = 'Your current password is not right.';
      else if (err.code === 'weak_password') text = `The new password is too weak: ${err.message}`;
      else if (err.code === 'password_too_long') text = 'The new password is longer than 72 bytes.';
    }
    setMessage('password-error', text);
  }
});

let lastEmail = '';

startPage({
  contentId: 'account',
  onSignedIn: (session) => {
    if (session.user.email !== lastEmail) drafts.clear();
    lastEmail = session.user.email;
    for (const id of ['page-error', 'devices-status', 'password-status']) setMessage(id, '');
    loadDevices().then(() => loadActivity(false));
  },
  onSignedOut: () => {
    $('devices').replaceChildren();
    $('activity').replaceChildren();
    $('password-form').reset();
  },
});

// Coming back to the tab re-checks the list: a device signed out elsewhere
// disappears, and a session revoked elsewhere returns to the sign-in form.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && currentSession()) loadDevices();
});
