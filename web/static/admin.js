// /admin/security: security events with filters, paging and CSV export,
// and the sessions of one user with revoke actions. The data comes from the
// admin-only API; this page only renders it (as text, never HTML).

import { ApiError, api, request, withFreshToken } from './api.js';
import {
  $, el, timeElement, absoluteTime, relativeTime, setMessage, describeError, askPassword, busy, announce, showResult,
  confirmAction, reasonText, REASONS,
} from './ui.js';
import { startPage } from './signin.js';

const PAGE_SIZE = 50;
const EXPORT_LIMIT = 500;

const state = {
  filters: {},      // the applied query (type, reason, user_id, since, until)
  userEmail: '',    // the email behind filters.user_id
  cursors: [''],    // cursor of each page visited; the last is the current page
  next: '',
  user: null,       // {id, email} of the sessions panel
  highlight: null,  // the session id to point out in it
  csvURL: null,
};

const fail = (err) => {
  if (err instanceof ApiError && err.signedOut) return;
  if (err instanceof ApiError && err.code === 'forbidden') {
    refuse();
    return;
  }
  setMessage('page-error', describeError(err));
  $('page-error').scrollIntoView({ block: 'nearest' });
};
const fresh = (fn) => withFreshToken(fn, () => askPassword('Revoking sessions needs your password again.'));

function refuse() {
  $('refusal-email').textContent = $('who-email').textContent;
  $('admin').hidden = true;
  $('refusal').hidden = false;
}

// A date input holds a local calendar day; the API takes RFC 3339 times.
function dayStart(value, plusDays) {
  const [y, m, d] = value.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function query(extra) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(Object.assign({}, state.filters, extra))) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  return p.toString();
}

/** findUser resolves an email to a user ({id, email}), or null. */
async function findUser(email) {
  const want = email.trim().toLowerCase();
  const { users } = await api('GET', `/v1/admin/users?${new URLSearchParams({ email: want, limit: '20' })}`);
  return users.find((u) => u.email.toLowerCase() === want) || null;
}

async function readFilters() {
  const f = {
    type: $('f-type').value,
    reason: $('f-reason').value,
  };
  const since = $('f-since').value;
  const until = $('f-until').value;
  if (since) f.since = dayStart(since, 0);
  if (until) f.until = dayStart(until, 1);
  if (since && until && f.since >= f.until) throw new Error('The “From” date must not be after the “To” date.');
  const email = $('f-email').value.trim();
  if (email) {
    const user = await findUser(email);
    if (!user) throw new Error(`No user has the email ${email}.`);
    f.user_id = user.id;
    state.userEmail = user.email;
  }
  return f;
}

function detailItems(details) {
  const list = el('ul', { class: 'details-list' });
  for (const [k, v] of Object.entries(details || {})) {
    list.append(el('li', {}, el('span', { class: 'mono', text: k }), ': ', typeof v === 'object' ? JSON.stringify(v) : String(v)));
  }
  return list;
}

// The sessions of the users of reuse events, to name the device and, for
// events recorded before last_legitimate_user_agent existed, to show the
// family's own user agent next to the replay.
const sessionCache = new Map();
function sessionsOf(userID) {
  if (!sessionCache.has(userID)) {
    sessionCache.set(userID, api('GET', `/v1/admin/users/${encodeURIComponent(userID)}/sessions?state=all`)
      .then((r) => r.sessions, () => []));
  }
  return sessionCache.get(userID);
}
async function sessionOf(userID, sessionID) {
  if (!userID || !sessionID) return null;
  const sessions = await sessionsOf(userID);
  return sessions.find((s) => s.id === sessionID) || null;
}

// Emails of the users of events.
const emailCache = new Map();
function emailOf(userID) {
  if (!emailCache.has(userID)) {
    emailCache.set(userID, api('GET', `/v1/admin/users/${encodeURIComponent(userID)}`)
      .then((r) => r.user.email, () => ''));
  }
  return emailCache.get(userID);
}

function deviceName(s) {
  return s.device_name || [s.browser, s.os].filter(Boolean).join(' on ') || 'Unknown device';
}

/** copyButton copies text to the clipboard and says so. */
function copyButton(text, what) {
  const b = el('button', { type: 'button', class: 'copy', 'aria-label': `Copy ${what}`, text: 'Copy' });
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      announce(`Copied ${what}.`);
      b.textContent = 'Copied';
      setTimeout(() => { b.textContent = 'Copy'; }, 2000);
    } catch {
      setMessage('page-error', `Could not copy; select the ${what} and copy it by hand.`);
    }
  });
  return b;
}

/** idText shows a whole id (UUIDv7 prefixes collide within a minute) with a copy button. */
function idText(id, what, node) {
  return el('span', { class: 'id-cell' }, node || el('span', { class: 'mono', text: id }), copyButton(id, what));
}

function legitUA(ev, d) {
  const p = el('p', { class: 'legit-ua' }, 'User agent: ', el('strong', { text: d.last_legitimate_user_agent || '…' }));
  if (!d.last_legitimate_user_agent) {
    sessionOf(ev.user_id, ev.session_id).then((s) => {
      const ua = s ? (s.user_agent || [s.browser, s.os].filter(Boolean).join(' on ')) : '';
      p.replaceChildren('User agent: ', el('strong', { text: ua || 'unknown' }));
    });
  }
  return p;
}

function reuseBlock(ev) {
  const d = ev.details || {};
  const replayUA = d.replay_user_agent || ev.user_agent || 'unknown';
  return el('div', { class: 'compare' },
    el('div', { class: 'replay' },
      el('h4', { text: 'Replayed sign-in (suspect)' }),
      el('p', { class: 'replay-ip' }, 'IP prefix: ', el('strong', { text: d.replay_ip_prefix || ev.ip_prefix || 'unknown' })),
      el('p', { class: 'replay-ua' }, 'User agent: ', el('strong', { text: replayUA })),
      d.replayed_generation !== undefined ? el('p', { text: d.replayed_generation === 0 ? 'A copy of the first sign-in' : `A copy from after ${d.replayed_generation} renewal${d.replayed_generation === 1 ? '' : 's'}` }) : null),
    el('div', { class: 'legit' },
      el('h4', { text: 'Last legitimate use' }),
      el('p', { class: 'legit-ip' }, 'IP prefix: ', el('strong', { text: d.last_legitimate_ip_prefix || 'unknown' })),
      legitUA(ev, d),
      d.latest_generation !== undefined ? el('p', { text: `Times this sign-in was renewed: ${d.latest_generation}` }) : null));
}

// A refresh inside the reuse grace window that got the same token again
// from another network or app than its first use: no theft was assumed (a
// phone that switched networks retries like this), but it is worth a look.
function retryMismatchBlock(ev) {
  const d = ev.details || {};
  return el('div', { class: 'compare' },
    el('div', { class: 'first-use' },
      el('h4', { text: 'First use' }),
      el('p', { class: 'first-ip' }, 'IP prefix: ', el('strong', { text: d.first_ip_prefix || 'unknown' })),
      el('p', { class: 'first-ua' }, 'User agent: ', el('strong', { text: d.first_user_agent || 'unknown' }))),
    el('div', { class: 'retry' },
      el('h4', { text: 'Retry a moment later' }),
      el('p', { class: 'retry-ip' }, 'IP prefix: ', el('strong', { text: d.retry_ip_prefix || ev.ip_prefix || 'unknown' })),
      el('p', { class: 'retry-ua' }, 'User agent: ', el('strong', { text: d.retry_user_agent || ev.user_agent || 'unknown' }))));
}

/** sessionLink opens the session's details: its row in the user's sessions. */
function sessionLink(userID, sessionID) {
  const a = el('a', { href: `#session-${sessionID}`, class: 'mono session-link', 'data-session-id': sessionID,
    'aria-label': `Details of session ${sessionID}`, text: sessionID });
  a.addEventListener('click', (ev) => {
    ev.preventDefault();
    openUser({ id: userID, email: '' }, { session: sessionID });
  });
  return a;
}

function userCell(ev) {
  const cell = el('td', { 'data-label': 'User and session' });
  if (ev.user_id) {
    const button = el('button', {
      type: 'button', class: 'link-button user-link', text: ev.user_id,
      'aria-label': `Show the sessions of user ${ev.user_id}`,
    });
    emailOf(ev.user_id).then((email) => {
      if (!email) return;
      button.textContent = email;
      button.setAttribute('aria-label', `Show the sessions of ${email}`);
      button.title = ev.user_id;
    });
    button.addEventListener('click', () => openUser({ id: ev.user_id, email: '' }));
    cell.append(el('div', {}, button), el('div', { class: 'muted user-id-line' }, 'user ', idText(ev.user_id, 'user id')));
  } else {
    cell.append(el('span', { class: 'muted', text: 'none' }));
  }
  if (ev.session_id) {
    const session = ev.user_id ? sessionLink(ev.user_id, ev.session_id) : el('span', { class: 'mono', text: ev.session_id });
    cell.append(el('div', { class: 'muted' }, 'session ', idText(ev.session_id, 'session id', session)));
  }
  return cell;
}

const TYPES = {
  user_registered: 'Account created',
  login_succeeded: 'Signed in',
  new_device_login: 'Signed in on a new device',
  login_failed: 'Failed sign-in',
  session_revoked: 'Signed out',
  password_changed: 'Password changed',
  rate_limited: 'Too many attempts',
  role_changed: 'Role changed',
  refresh_retry_mismatch: 'Renewed twice from different places',
};

/** eventTitle says what happened in plain words. */
function eventTitle(ev) {
  if (ev.reason === 'reuse_detected') return 'Old refresh token replayed: likely theft';
  if (ev.type === 'session_revoked' && ev.reason) return `Signed out: ${REASONS[ev.reason] || ev.reason}`;
  if (ev.type === 'login_failed' && ev.details && ev.details.kind === 'reauthenticate') return 'Wrong password when confirming identity';
  if (ev.type === 'login_failed' && ev.details && ev.details.kind === 'password_change') return 'Wrong current password on password change';
  return TYPES[ev.type] || ev.type;
}

const wide = window.matchMedia('(min-width: 40.01rem)');

function renderEvent(ev) {
  const reuse = ev.reason === 'reuse_detected';
  const mismatch = ev.type === 'refresh_retry_mismatch';
  const code = ev.reason ? `${ev.type} · ${ev.reason}` : ev.type;
  const what = el('td', { 'data-label': 'Event' },
    reuse ? el('span', { class: 'badge danger', text: 'Likely theft' }) : null,
    mismatch ? el('span', { class: 'badge warning', text: 'Renewed from another network or app' }) : null,
    el('div', { class: 'event-plain', title: code, text: eventTitle(ev) }),
    el('div', { class: 'mono muted event-code', text: code }));
  const details = el('td', { 'data-label': 'Details' });
  let block = null;
  if (reuse) block = reuseBlock(ev);
  else if (mismatch) block = retryMismatchBlock(ev);
  else if (ev.details && Object.keys(ev.details).length) block = detailItems(ev.details);
  // On a phone the details fold away (with the IP prefix and user agent,
  // whose columns are hidden there) so that each event is a short card.
  const more = wide.matches
    ? el('details', { open: true }, el('summary', { text: 'Details' }), block)
    : el('details', {}, el('summary', { text: 'Details' }),
      el('p', { class: 'mono' }, `IP prefix ${ev.ip_prefix || 'unknown'}`),
      el('p', {}, `User agent: ${ev.user_agent || 'unknown'}`), block);
  if (!block && wide.matches) more.hidden = true;
  details.append(more);
  return el('tr', { class: reuse ? 'reuse' : null, 'data-event-id': ev.id, 'data-reason': ev.reason || null },
    el('td', { 'data-label': 'Time', class: 'nowrap' }, absoluteTime(ev.created_at)),
    what,
    userCell(ev),
    el('td', { 'data-label': 'IP prefix', class: 'mono nowrap', text: ev.ip_prefix || '' }),
    el('td', { 'data-label': 'User agent', text: ev.user_agent || '' }),
    details);
}

// Theft signals of the selected range, pinned above the paged events.

async function renderTheft(ev) {
  const reuse = ev.reason === 'reuse_detected';
  const email = ev.user_id ? await emailOf(ev.user_id) : '';
  const s = await sessionOf(ev.user_id, ev.session_id);
  const who = email || ev.user_id || 'unknown user';
  const open = el('button', { type: 'button', class: 'primary theft-open', text: `Show ${who}’s sessions` });
  open.addEventListener('click', () => openUser({ id: ev.user_id, email }, { session: ev.session_id }));
  return el('li', { class: reuse ? 'theft' : 'theft warning', 'data-event-id': ev.id, 'data-user-id': ev.user_id || null },
    el('h3', { text: reuse ? `Old sign-in replayed: ${who}` : `Renewed from two places: ${who}` }),
    el('p', {}, el('span', { class: 'theft-device', text: s ? deviceName(s) : 'Device unknown' }), ' · ',
      timeElement(ev.created_at)),
    reuse ? reuseBlock(ev) : retryMismatchBlock(ev),
    el('div', { class: 'actions' }, open));
}

async function loadTheft() {
  const base = {};
  for (const k of ['since', 'until', 'user_id']) if (state.filters[k]) base[k] = state.filters[k];
  const q = (extra) => new URLSearchParams(Object.assign({ limit: '20' }, base, extra)).toString();
  try {
    const [reuse, mismatch] = await Promise.all([
      api('GET', `/v1/admin/security-events?${q({ reason: 'reuse_detected' })}`),
      api('GET', `/v1/admin/security-events?${q({ type: 'refresh_retry_mismatch' })}`),
    ]);
    const events = [...reuse.events, ...mismatch.events].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
    const items = await Promise.all(events.map(renderTheft));
    $('theft-list').replaceChildren(...items);
    const n = reuse.events.length;
    const m = mismatch.events.length;
    $('theft-summary').textContent = n || m
      ? `${n}${reuse.next_cursor ? '+' : ''} replayed sign-in${n === 1 ? '' : 's'} (likely theft) and ${m}${mismatch.next_cursor ? '+' : ''} renewal${m === 1 ? '' : 's'} from two places in the selected range, newest first.`
      : 'No replayed sign-ins and no renewals from two places in the selected range.';
  } catch (err) {
    fail(err);
  }
}

async function loadEvents() {
  const cursor = state.cursors[state.cursors.length - 1];
  try {
    const page = await api('GET', `/v1/admin/security-events?${query({ limit: PAGE_SIZE, cursor })}`);
    const body = $('events-body');
    body.replaceChildren(...page.events.map(renderEvent));
    if (!page.events.length) {
      body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No events match these filters.' })));
    }
    state.next = page.next_cursor || '';
    const n = state.cursors.length;
    const reuse = page.events.filter((e) => e.reason === 'reuse_detected').length;
    $('page-label').textContent = `Page ${n}`;
    $('page-newer').disabled = n === 1;
    $('page-older').disabled = !state.next;
    let summary = `${page.events.length} event${page.events.length === 1 ? '' : 's'} on this page`;
    if (state.filters.user_id) summary += ` for ${state.userEmail}`;
    if (reuse) summary += `, ${reuse} replayed sign-in${reuse === 1 ? '' : 's'}`;
    $('events-summary').textContent = `${summary}.`;
  } catch (err) {
    fail(err);
  }
}

/** csvRecords counts the records of a CSV text (newlines in quotes do not end one). */
function csvRecords(text) {
  let records = 0;
  let quoted = false;
  let empty = true;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === '\n' && !quoted) {
      if (!empty) records++;
      empty = true;
    } else if (ch !== '\r') {
      empty = false;
    }
  }
  return empty ? records : records + 1;
}

async function exportCSV(button) {
  setMessage('export-status', '');
  try {
    const res = await busy(button, () =>
      request('GET', `/v1/admin/security-events?${query({ format: 'csv', limit: EXPORT_LIMIT })}`,
        undefined, { Accept: 'text/csv' }));
    const blob = await res.blob();
    const text = await blob.text();
    const rows = Math.max(0, csvRecords(text) - 1); // minus the header
    if (state.csvURL) URL.revokeObjectURL(state.csvURL);
    state.csvURL = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
    const name = `security-events-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.csv`;
    const link = el('a', { id: 'csv-link', href: state.csvURL, download: name, 'data-rows': rows,
      text: `Download ${name} (${rows} event${rows === 1 ? '' : 's'})` });
    $('export-status').replaceChildren(link);
    link.click();
  } catch (err) {
    fail(err);
  }
}

function sessionState(s) {
  if (s.revoked_at) {
    return el('span', { class: 'badge muted state-revoked' }, 'Signed out: ', reasonText(s.revoke_reason));
  }
  return el('span', { class: 'badge', text: 'Active' });
}

function renderUserSession(s) {
  const name = deviceName(s);
  const action = el('td', { 'data-label': 'Action' });
  if (!s.revoked_at) {
    const b = el('button', { type: 'button', class: 'danger revoke', 'aria-label': `Revoke ${name}`, text: 'Revoke' });
    b.addEventListener('click', async () => {
      const who = state.user.email || `user ${state.user.id}`;
      const ok = await confirmAction({
        title: 'Sign out this session?',
        text: `Sign out ${name} of ${who}, last active ${relativeTime(s.last_used_at)}? The device will need the password to sign in again.`,
        confirm: `Revoke ${name}`,
      });
      if (!ok) return;
      try {
        const done = await busy(b, () => fresh(() => request('DELETE', `/v1/admin/sessions/${encodeURIComponent(s.id)}`)));
        if (done === undefined) return;
        sessionCache.delete(state.user.id);
        await loadUserSessions();
        showResult('user-status', `Revoked the session “${name}” of ${who}.`);
      } catch (err) {
        fail(err);
      }
    });
    action.append(b);
  }
  return el('tr', { id: `session-${s.id}`, 'data-session-id': s.id, tabindex: '-1',
    class: state.highlight === s.id ? 'highlight' : null },
  el('td', { 'data-label': 'Device' }, el('strong', { text: name }),
    el('div', { class: 'muted', text: s.user_agent || '' }),
    s.client_id && s.client_id !== 'default' ? el('div', { class: 'muted', text: `App: ${s.client_id}` }) : null),
  el('td', { 'data-label': 'Session' }, idText(s.id, 'session id'),
    el('div', { class: 'muted' }, 'Signed in ', timeElement(s.created_at)),
    s.expires_at ? el('div', { class: 'muted' }, 'Expires ', absoluteTime(s.expires_at)) : null),
  el('td', { 'data-label': 'IP prefix', class: 'mono nowrap', text: s.ip_prefix || '' }),
  el('td', { 'data-label': 'Last active' }, timeElement(s.last_used_at)),
  el('td', { 'data-label': 'State' }, sessionState(s)),
  action);
}

async function loadUserSessions() {
  if (!state.user) return;
  try {
    const st = $('user-state').value;
    const { sessions } = await api('GET', `/v1/admin/users/${encodeURIComponent(state.user.id)}/sessions?state=${st}`);
    const body = $('user-sessions-body');
    body.replaceChildren(...sessions.map(renderUserSession));
    if (!sessions.length) body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No sessions.' })));
    $('revoke-all').disabled = st === 'revoked' || !sessions.some((s) => !s.revoked_at);
  } catch (err) {
    fail(err);
  }
}

/**
 * openUser shows a user's sessions; opts.session highlights and focuses
 * one (the details of a session link). With theft events, revoked
 * sessions show too (state "all").
 */
async function openUser(user, opts = {}) {
  state.user = user;
  state.highlight = opts.session || null;
  $('user-id').textContent = user.id;
  $('user-panel').hidden = false;
  setMessage('user-status', '');
  $('user-title').textContent = user.email ? `Sessions of ${user.email}` : 'Sessions of this user';
  if (!user.email) {
    emailOf(user.id).then((email) => {
      if (email && state.user === user) {
        user.email = email;
        $('user-title').textContent = `Sessions of ${email}`;
      }
    });
  }
  let theft = !!opts.session;
  if (!theft) {
    try {
      const r = await api('GET', `/v1/admin/security-events?${new URLSearchParams({ user_id: user.id, reason: 'reuse_detected', limit: '1' })}`);
      theft = r.events.length > 0;
    } catch (err) {
      fail(err);
    }
  }
  $('user-state').value = theft ? 'all' : 'active';
  await loadUserSessions();
  const row = state.highlight && document.getElementById(`session-${state.highlight}`);
  if (row) {
    row.focus();
    row.scrollIntoView({ block: 'center' });
  } else {
    $('user-title').focus();
  }
}

$('filters').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    state.filters = await readFilters();
  } catch (err) {
    if (err instanceof ApiError) fail(err);
    else setMessage('page-error', err.message);
    return;
  }
  setMessage('page-error', '');
  state.cursors = [''];
  await Promise.all([loadEvents(), loadTheft()]);
  $('events-title').focus();
});

$('f-reset').addEventListener('click', () => {
  $('filters').reset();
  state.filters = {};
  state.userEmail = '';
  state.cursors = [''];
  setMessage('page-error', '');
  loadEvents();
  loadTheft();
});

$('f-user-sessions').addEventListener('click', async () => {
  const email = $('f-email').value.trim();
  if (!email) {
    setMessage('page-error', 'Enter the user’s email first.');
    $('f-email').focus();
    return;
  }
  try {
    const user = await findUser(email);
    if (!user) {
      setMessage('page-error', `No user has the email ${email}.`);
      return;
    }
    setMessage('page-error', '');
    openUser(user);
  } catch (err) {
    fail(err);
  }
});

$('page-older').addEventListener('click', () => {
  if (!state.next) return;
  state.cursors.push(state.next);
  loadEvents();
});
$('page-newer').addEventListener('click', () => {
  if (state.cursors.length > 1) state.cursors.pop();
  loadEvents();
});
$('export-csv').addEventListener('click', (ev) => exportCSV(ev.currentTarget));
$('user-state').addEventListener('change', loadUserSessions);
$('close-user').addEventListener('click', () => {
  $('user-panel').hidden = true;
  state.user = null;
  $('events-title').focus();
});

$('revoke-all').addEventListener('click', async (ev) => {
  const b = ev.currentTarget;
  const who = state.user.email || `user ${state.user.id}`;
  const ok = await confirmAction({
    title: 'Sign out every session of this user?',
    text: `Sign out every device of ${who}? Each will need the password to sign in again.`,
    confirm: 'Revoke all sessions',
  });
  if (!ok) return;
  try {
    const res = await busy(b, () => fresh(() => api('DELETE', `/v1/admin/users/${encodeURIComponent(state.user.id)}/sessions`)));
    if (res === undefined) return;
    sessionCache.delete(state.user.id);
    await loadUserSessions();
    showResult('user-status', `Revoked ${res.revoked} session${res.revoked === 1 ? '' : 's'} of ${who}.`);
  } catch (err) {
    fail(err);
  }
});

// On a phone the filters fold behind one button.
const phone = window.matchMedia('(max-width: 40rem)');
function foldFilters(folded) {
  $('filters').classList.toggle('collapsed', folded);
  $('filters-toggle').setAttribute('aria-expanded', String(!folded));
  $('filters-toggle').textContent = folded ? 'Show filters' : 'Hide filters';
}
foldFilters(phone.matches);
$('filters-toggle').addEventListener('click', () => {
  const folded = !$('filters').classList.contains('collapsed');
  foldFilters(folded);
  if (!folded) $('f-type').focus();
});

startPage({
  contentId: 'content',
  onSignedIn: (session) => {
    sessionCache.clear();
    emailCache.clear();
    setMessage('page-error', '');
    if (session.user.role !== 'admin') {
      refuse();
      return;
    }
    $('refusal').hidden = true;
    $('admin').hidden = false;
    state.cursors = [''];
    loadEvents();
    loadTheft();
  },
  onSignedOut: () => {
    $('events-body').replaceChildren();
    $('theft-list').replaceChildren();
    $('user-panel').hidden = true;
    state.user = null;
    if (state.csvURL) URL.revokeObjectURL(state.csvURL);
    state.csvURL = null;
    $('export-status').replaceChildren();
  },
});
