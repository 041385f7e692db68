// The operator view's entry point: sign-in (a `#token=` hand-over or a paste box), the header with
// the workspace picker, and a small router that maps `/ui/…` paths to pages without reloading.
// Each page gets an AbortSignal that fires when the operator leaves it, which stops its polling.

import { onUnauthorized } from './api.js';
import { el, field, notice, replace } from './dom.js';
import {
  adoptTokenFromHash, can, currentToken, decodePrincipal, forgetToken, isExpired, selectWorkspace,
  selectedWorkspace, storeToken,
} from './session.js';
import * as fleet from './fleet.js';
import * as run from './run.js';
import * as historyPage from './history.js';
import * as audit from './audit.js';

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const ID = '[1-9][0-9]{0,18}';
const ROUTES = [
  { pattern: /^\/ui\/?$/, page: fleet, keys: [] },
  { pattern: new RegExp(`^/ui/runs/(${UUID})$`), page: run, keys: ['runId'] },
  {
    pattern: new RegExp(`^/ui/workspaces/(${ID})/tenants/(${ID})/connections/(${UUID})$`),
    page: historyPage,
    keys: ['workspaceId', 'tenantId', 'connectionId'],
  },
  { pattern: new RegExp(`^/ui/workspaces/(${ID})/audit$`), page: audit, keys: ['workspaceId'] },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const sessionBox = document.getElementById('session');
const status = document.getElementById('status');

let current = null;
let signInMessage = null;

/** Says something to screen readers (and shows it) without moving focus. */
export function announce(text) {
  replace(status, text);
}

function setBusy(busy) {
  main.setAttribute('aria-busy', busy ? 'true' : 'false');
}

function principalOrNull() {
  const token = currentToken();
  if (!token) return null;
  try {
    const principal = decodePrincipal(token);
    if (isExpired(principal)) {
      forgetToken();
      signInMessage = 'Your token has expired. Paste a new one.';
      return null;
    }
    return principal;
  } catch (error) {
    forgetToken();
    signInMessage = error.message;
    return null;
  }
}

function renderSession(principal) {
  if (!principal) {
    replace(nav);
    replace(sessionBox);
    document.body.removeAttribute('data-signed-in');
    return;
  }
  document.body.setAttribute('data-signed-in', '');
  const workspace = selectedWorkspace(principal);
  const links = [el('a', { href: '/ui/' }, 'Fleet')];
  if (workspace !== null && can(principal, workspace, 'audit.read')) {
    links.push(el('a', { href: `/ui/workspaces/${workspace}/audit` }, 'Audit'));
  }
  for (const link of links) {
    if (link.getAttribute('href') === location.pathname) link.setAttribute('aria-current', 'page');
  }
  replace(nav, el('ul', {}, links.map((link) => el('li', {}, link))));
  const parts = [el('span', { class: 'whoami' }, 'Signed in as ', el('strong', {}, principal.sub || 'unknown'))];
  if (principal.memberships.length > 1) {
    const select = el('select', {}, principal.memberships.map((m) =>
      el('option', { value: m.workspaceId }, `Workspace ${m.workspaceId}`)));
    select.value = workspace;
    select.addEventListener('change', () => {
      selectWorkspace(select.value);
      navigate('/ui/');
    });
    parts.push(field('workspace-picker', 'Workspace', select));
  }
  const signOut = el('button', { type: 'button', class: 'button-quiet' }, 'Sign out');
  signOut.addEventListener('click', () => {
    forgetToken();
    signInMessage = 'You signed out. The token was removed from this tab.';
    route();
  });
  parts.push(signOut);
  replace(sessionBox, parts);
}

function renderSignIn() {
  document.title = 'Sign in — Verdict';
  const input = el('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const form = el('form', { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    el('h1', { id: 'sign-in-title', tabindex: '-1' }, 'Sign in'),
    signInMessage ? notice('warning', signInMessage) : null,
    el('p', {}, 'Paste the bearer token your host product issued. It stays in this browser tab only ',
      '(session storage) and is sent only in the Authorization header of requests to Verdict.'),
    field('token-input', 'Bearer token', input),
    el('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    try {
      const principal = decodePrincipal(token);
      if (isExpired(principal)) throw new Error('This token has expired.');
    } catch (error) {
      replace(status, error.message);
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    signInMessage = null;
    storeToken(token);
    route();
  });
  replace(main, form);
  setBusy(false);
  form.querySelector('h1').focus();
}

function match(pathname) {
  for (const { pattern, page, keys } of ROUTES) {
    const found = pattern.exec(pathname);
    if (found) return { page, params: Object.fromEntries(keys.map((key, i) => [key, found[i + 1]])) };
  }
  return null;
}

/** Renders the page of the current address; `focus` moves focus to its heading afterwards. */
export async function route({ focus = false } = {}) {
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  const principal = principalOrNull();
  renderSession(principal);
  if (!principal) {
    renderSignIn();
    return;
  }
  const found = match(location.pathname);
  setBusy(true);
  if (!found) {
    document.title = 'Not found — Verdict';
    replace(main, el('h1', { tabindex: '-1' }, 'Page not found'),
      el('p', {}, 'This address is not a page of the Verdict view. ', el('a', { href: '/ui/' }, 'Go to the fleet.')));
    setBusy(false);
    return;
  }
  const context = {
    main,
    principal,
    params: found.params,
    signal: controller.signal,
    announce,
    navigate,
    setTitle: (title) => { document.title = `${title} — Verdict`; },
  };
  try {
    await found.page.render(context);
  } catch (error) {
    if (controller.signal.aborted || (error && error.name === 'AbortError')) return;
    replace(main, el('h1', { tabindex: '-1' }, 'Something went wrong'), notice('error', String(error && error.message)));
  } finally {
    if (!controller.signal.aborted) setBusy(false);
  }
  if (!controller.signal.aborted && (focus || document.activeElement === document.body)) {
    const heading = main.querySelector('h1');
    if (heading) heading.focus({ preventScroll: true });
  }
}

/** Goes to a page of the view without reloading. */
export function navigate(path) {
  history.pushState(null, '', path);
  window.scrollTo(0, 0);
  route({ focus: true });
}

// Same-origin links to /ui/ pages are followed in place; modified clicks (new tab) and downloads
// keep the browser's behaviour.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  const link = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!link || link.hasAttribute('download') || link.target) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/ui/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => route());

onUnauthorized(() => {
  forgetToken();
  signInMessage = 'Verdict did not accept your token (it may have expired). Paste a new one.';
  route();
});

adoptTokenFromHash();
route();
