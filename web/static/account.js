// /account: the signed-in devices of the user and the password change.

import { ApiError, api, request, reauthenticate, withFreshToken, signOut, currentSession } from './api.js';
import { $, el, timeElement, setMessage, describeError, askPassword, busy } from './ui.js';
import { startPage } from './signin.js';

const flash = (text) => {
  setMessage('page-error', '');
  setMessage('flash', text);
};
const fail = (err) => {
  if (err instanceof ApiError && err.signedOut) return; // back on the sign-in form
  setMessage('flash', '');
  setMessage('page-error', describeError(err));
};

const fresh = (fn) => withFreshToken(fn, () => askPassword('Signing devices out needs your password again.'));

function deviceLabel(s) {
  return s.device_name || [s.browser, s.os].filter(Boolean).join(' on ') || 'Unknown device';
}

function platform(s) {
  const parts = [s.browser, s.os].filter(Boolean);
  return parts.length ? parts.join(' on ') : 'Unknown browser';
}

function renderDevice(s) {
  const name = deviceLabel(s);
  const li = el('li', { class: s.current ? 'device current' : 'device', 'data-session-id': s.id });

  const title = el('div', { class: 'device-title' },
    el('h3', { class: 'device-name', text: name }),
    s.current ? el('span', { class: 'badge', text: 'This device' }) : null);
  const meta = el('p', { class: 'device-meta' },
    el('span', { class: 'device-platform', text: platform(s) }), ' · ',
    el('span', { class: 'device-ip', text: s.ip_prefix ? `IP ${s.ip_prefix}` : 'IP unknown' }), ' · ',
    el('span', { class: 'device-active' }, 'Last active ', timeElement(s.last_used_at)));
  const info = el('div', { class: 'device-info' }, title, meta);

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

  renameButton.addEventListener('click', () => {
    form.hidden = false;
    input.value = s.device_name || '';
    input.focus();
    input.select();
  });
  cancel.addEventListener('click', () => {
    form.hidden = true;
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
      flash(`Renamed to “${value}”.`);
      await loadDevices();
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
    try {
      const done = await busy(signoutButton, () => fresh(() =>
        request('DELETE', `/v1/sessions/${encodeURIComponent(s.id)}`)));
      if (done === undefined) return; // password prompt cancelled
      flash(`Signed out “${name}”.`);
      await loadDevices();
      $('devices-title').focus();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'not_found') {
        flash(`“${name}” was already signed out.`);
        await loadDevices();
        return;
      }
      fail(err);
    }
  });

  li.append(info, actions, form);
  return li;
}

let loading = null;

/** loadDevices (re)draws the list; calls made meanwhile share one request. */
function loadDevices() {
  if (!loading) {
    loading = (async () => {
      try {
        const { sessions } = await api('GET', '/v1/sessions');
        const list = $('devices');
        list.replaceChildren(...sessions.map(renderDevice));
        $('signout-others').hidden = !sessions.some((s) => !s.current);
      } catch (err) {
        fail(err);
      }
    })().finally(() => { loading = null; });
  }
  return loading;
}

$('devices-title').setAttribute('tabindex', '-1');

$('signout-others').addEventListener('click', async (ev) => {
  const button = ev.currentTarget;
  try {
    const res = await busy(button, () => fresh(() => api('DELETE', '/v1/sessions?scope=others')));
    if (res === undefined) return;
    const n = res.revoked;
    flash(n === 1 ? 'Signed out 1 other device.' : `Signed out ${n} other devices.`);
    await loadDevices();
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
    flash('Password changed. Your other devices were signed out.');
    await loadDevices();
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

startPage({
  contentId: 'account',
  onSignedIn: () => {
    flash('');
    setMessage('page-error', '');
    loadDevices();
  },
  onSignedOut: () => {
    $('devices').replaceChildren();
    $('password-form').reset();
  },
});

// Coming back to the tab re-checks the list: a device signed out elsewhere
// disappears, and a session revoked elsewhere returns to the sign-in form.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && currentSession()) loadDevices();
});
