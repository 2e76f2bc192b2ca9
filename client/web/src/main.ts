/** Entry of the dev web page served by the gateway at `/app/` (built by `client/web/build.mjs`). */
import { startApp } from './app.js';
import { h, mount } from './dom.js';
import { type Session, signIn, signOut, storedSession } from './session.js';

const root = document.getElementById('app') as HTMLElement;

function signedIn(session: Session) {
  startApp(root, session, () => {
    signOut();
    location.reload(); // drops the client and its socket with the old identity
  });
}

function signInForm() {
  const user = h('input', { name: 'user', value: 'alice', required: true, autocomplete: 'username', 'data-testid': 'signin-user' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'signin card', 'data-testid': 'signin-form' },
    h('h1', null, 'taskgraph'),
    h('p', null, 'Development sign-in: the gateway issues a token for any user name (never in production).'),
    h('label', { class: 'field' }, h('span', null, 'User'), user),
    error,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'signin-submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      signedIn(await signIn(user.value.trim()));
    } catch (e) {
      error.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  mount(root, form);
}

const session = storedSession();
if (session) signedIn(session);
else signInForm();
