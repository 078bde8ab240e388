// The sign-in flow shared by the pages: refresh on load, the sign-in form,
// the sign-out button, and the way back to the form when the session ends.

import { ApiError, refresh, signIn, signOut, onSignedOut, onSignedInElsewhere } from './api.js';
import { $, setMessage, describeError, signedOutMessage } from './ui.js';

/**
 * startPage shows #loading, then either the sign-in form (#signin) or the
 * page content (#<contentId>), and calls onSignedIn(session) each time a
 * session starts. onSignedOut(code) runs when it ends.
 */
export function startPage({ contentId, onSignedIn, onSignedOut: onEnded }) {
  const content = $(contentId);
  let signedIn = false;

  const show = (view) => {
    $('loading').hidden = true;
    $('signin').hidden = view !== 'signin';
    content.hidden = view !== 'content';
    $('who').hidden = view !== 'content';
  };

  const enter = (session) => {
    signedIn = true;
    $('who-email').textContent = session.user.email;
    setMessage('signin-error', '');
    setMessage('signin-message', '');
    show('content');
    onSignedIn(session);
  };

  const showSignIn = (code) => {
    const wasSignedIn = signedIn;
    signedIn = false;
    if (onEnded) onEnded(code);
    // Say why, from the code of the refresh that failed, and keep what
    // is known: the email of the session that ended (a half-typed email
    // stays as it is).
    const message = signedOutMessage(code, wasSignedIn);
    if (message || wasSignedIn) setMessage('signin-message', message);
    const email = $('signin-email');
    if (wasSignedIn && !email.value) email.value = $('who-email').textContent;
    show('signin');
    if (wasSignedIn) (email.value ? $('signin-password') : email).focus();
  };

  onSignedOut(showSignIn);
  onSignedInElsewhere(() => {
    if (!signedIn) refresh().then(enter, () => {});
  });

  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = $('signin-email').value.trim();
    const password = $('signin-password').value;
    if (!email || !password) {
      setMessage('signin-error', 'Enter your email and your password.');
      return;
    }
    const button = ev.submitter || $('signin-form').querySelector('button[type=submit]');
    button.disabled = true;
    setMessage('signin-error', '');
    try {
      const session = await signIn(email, password);
      $('signin-password').value = '';
      enter(session);
    } catch (err) {
      setMessage('signin-error', err instanceof ApiError && err.code === 'invalid_credentials'
        ? 'The email or the password is not right.'
        : describeError(err));
      $('signin-password').select();
    } finally {
      button.disabled = false;
    }
  });

  $('signout').addEventListener('click', () => { signOut(); });

  refresh().then(enter, (err) => {
    if (!(err instanceof ApiError)) setMessage('signin-message', describeError(err));
    else if (!err.signedOut) setMessage('signin-message', describeError(err));
    // A dead session already showed the form through onSignedOut.
    show('signin');
  });
}
