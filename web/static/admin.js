// /admin/security: security events with filters, paging and CSV export,
// and the sessions of one user with revoke actions. The data comes from the
// admin-only API; this page only renders it (as text, never HTML).

import { ApiError, api, request, withFreshToken } from './api.js';
import { $, el, timeElement, absoluteTime, setMessage, describeError, askPassword, busy } from './ui.js';
import { startPage } from './signin.js';

const PAGE_SIZE = 50;
const EXPORT_LIMIT = 500;

const state = {
  filters: {},      // the applied query (type, reason, user_id, since, until)
  userEmail: '',    // the email behind filters.user_id
  cursors: [''],    // cursor of each page visited; the last is the current page
  next: '',
  user: null,       // {id, email} of the sessions panel
  csvURL: null,
};

const fail = (err) => {
  if (err instanceof ApiError && err.signedOut) return;
  if (err instanceof ApiError && err.code === 'forbidden') {
    refuse();
    return;
  }
  setMessage('flash', '');
  setMessage('page-error', describeError(err));
};
const flash = (text) => {
  setMessage('page-error', '');
  setMessage('flash', text);
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

// The sessions of the users of reuse events, to show the family's own
// (legitimate) device next to the replay.
const sessionCache = new Map();
async function sessionOf(userID, sessionID) {
  if (!userID || !sessionID) return null;
  if (!sessionCache.has(userID)) {
    sessionCache.set(userID, api('GET', `/v1/admin/users/${encodeURIComponent(userID)}/sessions?state=all`)
      .then((r) => r.sessions, () => []));
  }
  const sessions = await sessionCache.get(userID);
  return sessions.find((s) => s.id === sessionID) || null;
}

function reuseBlock(ev) {
  const d = ev.details || {};
  const replayUA = d.replay_user_agent || ev.user_agent || 'unknown';
  const legitUA = el('p', { class: 'legit-ua' }, 'User agent: ', d.last_legitimate_user_agent || '…');
  const block = el('div', { class: 'compare' },
    el('div', { class: 'replay' },
      el('h4', { text: 'Replayed token (suspect)' }),
      el('p', { class: 'replay-ip' }, 'IP prefix: ', el('strong', { text: d.replay_ip_prefix || ev.ip_prefix || 'unknown' })),
      el('p', { class: 'replay-ua' }, 'User agent: ', el('strong', { text: replayUA })),
      d.replayed_generation !== undefined ? el('p', { text: `Token generation ${d.replayed_generation}` }) : null),
    el('div', { class: 'legit' },
      el('h4', { text: 'Last legitimate use' }),
      el('p', { class: 'legit-ip' }, 'IP prefix: ', el('strong', { text: d.last_legitimate_ip_prefix || 'unknown' })),
      legitUA,
      d.latest_generation !== undefined ? el('p', { text: `Latest generation ${d.latest_generation}` }) : null));
  if (!d.last_legitimate_user_agent) {
    sessionOf(ev.user_id, ev.session_id).then((s) => {
      const ua = s ? (s.user_agent || [s.browser, s.os].filter(Boolean).join(' on ')) : '';
      legitUA.replaceChildren('User agent: ', el('strong', { text: ua || 'unknown' }));
    });
  }
  return block;
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
      el('h4', { text: 'Retry within the grace window' }),
      el('p', { class: 'retry-ip' }, 'IP prefix: ', el('strong', { text: d.retry_ip_prefix || ev.ip_prefix || 'unknown' })),
      el('p', { class: 'retry-ua' }, 'User agent: ', el('strong', { text: d.retry_user_agent || ev.user_agent || 'unknown' }))));
}

function userCell(ev) {
  const cell = el('td', { 'data-label': 'User and session' });
  if (ev.user_id) {
    const button = el('button', {
      type: 'button', class: 'link-button mono', text: ev.user_id.slice(0, 8),
      title: ev.user_id, 'aria-label': `Show the sessions of user ${ev.user_id}`,
    });
    button.addEventListener('click', () => openUser({ id: ev.user_id, email: '' }));
    cell.append(button);
  } else {
    cell.append(el('span', { class: 'muted', text: 'none' }));
  }
  if (ev.session_id) cell.append(el('div', { class: 'mono muted', title: ev.session_id, text: `session ${ev.session_id.slice(0, 8)}` }));
  return cell;
}

function renderEvent(ev) {
  const reuse = ev.reason === 'reuse_detected';
  const mismatch = ev.type === 'refresh_retry_mismatch';
  const what = el('td', { 'data-label': 'Event' },
    reuse ? el('span', { class: 'badge danger', text: 'Token reuse detected' }) : null,
    mismatch ? el('span', { class: 'badge warning', text: 'Refresh retried from another network or app' }) : null,
    el('div', { class: 'mono nowrap', text: ev.type }),
    ev.reason ? el('div', { class: 'muted nowrap', text: `reason: ${ev.reason}` }) : null);
  const details = el('td', { 'data-label': 'Details' });
  if (reuse) details.append(reuseBlock(ev));
  else if (mismatch) details.append(retryMismatchBlock(ev));
  else if (ev.details && Object.keys(ev.details).length) details.append(detailItems(ev.details));
  return el('tr', { class: reuse ? 'reuse' : null, 'data-event-id': ev.id, 'data-reason': ev.reason || null },
    el('td', { 'data-label': 'Time', class: 'nowrap' }, absoluteTime(ev.created_at)),
    what,
    userCell(ev),
    el('td', { 'data-label': 'IP prefix', class: 'mono nowrap', text: ev.ip_prefix || '' }),
    el('td', { 'data-label': 'User agent', text: ev.user_agent || '' }),
    details);
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
    if (reuse) summary += `, ${reuse} token reuse detection${reuse === 1 ? '' : 's'}`;
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
  if (s.revoked_at) return el('span', { class: 'badge muted', text: `revoked: ${s.revoke_reason || 'unknown'}` });
  return el('span', { class: 'badge', text: 'active' });
}

function renderUserSession(s) {
  const name = s.device_name || [s.browser, s.os].filter(Boolean).join(' on ') || 'Unknown device';
  const action = el('td', { 'data-label': 'Action' });
  if (!s.revoked_at) {
    const b = el('button', { type: 'button', class: 'danger revoke', 'aria-label': `Revoke ${name}`, text: 'Revoke' });
    b.addEventListener('click', async () => {
      try {
        const done = await busy(b, () => fresh(() => request('DELETE', `/v1/admin/sessions/${encodeURIComponent(s.id)}`)));
        if (done === undefined) return;
        flash(`Revoked the session “${name}”.`);
        await loadUserSessions();
      } catch (err) {
        fail(err);
      }
    });
    action.append(b);
  }
  return el('tr', { 'data-session-id': s.id },
    el('td', { 'data-label': 'Device' }, el('strong', { text: name }),
      el('div', { class: 'muted', text: s.user_agent || '' })),
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
    if (!sessions.length) body.append(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: 'No sessions.' })));
    $('revoke-all').disabled = st === 'revoked' || !sessions.some((s) => !s.revoked_at);
  } catch (err) {
    fail(err);
  }
}

function openUser(user) {
  state.user = user;
  $('user-title').textContent = user.email ? `Sessions of ${user.email}` : 'Sessions of this user';
  $('user-id').textContent = user.id;
  $('user-panel').hidden = false;
  $('revoke-all').textContent = 'Revoke all sessions of this user';
  delete $('revoke-all').dataset.confirm;
  loadUserSessions().then(() => $('user-title').focus());
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
  await loadEvents();
  $('events-title').focus();
});

$('f-reset').addEventListener('click', () => {
  $('filters').reset();
  state.filters = {};
  state.userEmail = '';
  state.cursors = [''];
  setMessage('page-error', '');
  loadEvents();
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

// Revoking every session of a user takes a second, deliberate click.
$('revoke-all').addEventListener('click', async (ev) => {
  const b = ev.currentTarget;
  if (!b.dataset.confirm) {
    b.dataset.confirm = '1';
    b.textContent = 'Click again to revoke every session';
    b.classList.add('primary');
    return;
  }
  delete b.dataset.confirm;
  b.classList.remove('primary');
  b.textContent = 'Revoke all sessions of this user';
  try {
    const res = await busy(b, () => fresh(() => api('DELETE', `/v1/admin/users/${encodeURIComponent(state.user.id)}/sessions`)));
    if (res === undefined) return;
    flash(`Revoked ${res.revoked} session${res.revoked === 1 ? '' : 's'}.`);
    await loadUserSessions();
  } catch (err) {
    fail(err);
  }
});

startPage({
  contentId: 'content',
  onSignedIn: (session) => {
    sessionCache.clear();
    setMessage('page-error', '');
    setMessage('flash', '');
    if (session.user.role !== 'admin') {
      refuse();
      return;
    }
    $('refusal').hidden = true;
    $('admin').hidden = false;
    state.cursors = [''];
    loadEvents();
  },
  onSignedOut: () => {
    $('events-body').replaceChildren();
    $('user-panel').hidden = true;
    state.user = null;
    if (state.csvURL) URL.revokeObjectURL(state.csvURL);
    state.csvURL = null;
    $('export-status').replaceChildren();
  },
});
