// The caller's bearer token and what it says about them. The token lives in sessionStorage only
// (gone when the tab closes), is read from `#token=` once and then removed from the address bar,
// and leaves the page only in the Authorization header of API calls (see api.js). The claims are
// decoded without verification to decide what to show; the server verifies every request.

const TOKEN_KEY = 'verdict.token';
const WORKSPACE_KEY = 'verdict.workspace';

/** Parses JSON keeping integers beyond 2^53 as their exact text (ids are 64-bit). */
export function parseJson(text) {
  return JSON.parse(text, (key, value, context) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context && typeof context.source === 'string'
      && /^-?\d+$/.test(context.source)
      ? context.source
      : value);
}

/** Moves a `#token=…` hand-over into sessionStorage and out of the address bar and history. */
export function adoptTokenFromHash() {
  if (!location.hash || location.hash.length < 2) return;
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has('token')) return;
  const token = (params.get('token') || '').trim();
  params.delete('token');
  const rest = params.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
}

export function currentToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(WORKSPACE_KEY);
}

function base64UrlDecode(segment) {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/**
 * The principal a token describes: `{sub, exp, memberships: [{workspaceId, tenants, capabilities}]}`,
 * where `tenants` is `'*'` or an array of ids (as strings). Throws when it is not a JWT.
 */
export function decodePrincipal(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('This is not a JSON Web Token (it needs three dot-separated parts).');
  let claims;
  try {
    claims = parseJson(base64UrlDecode(parts[1]));
  } catch {
    throw new Error('The token’s payload could not be read.');
  }
  if (!claims || typeof claims !== 'object') throw new Error('The token’s payload is not an object.');
  const memberships = Array.isArray(claims.memberships) ? claims.memberships : [];
  return {
    sub: typeof claims.sub === 'string' ? claims.sub : '',
    exp: typeof claims.exp === 'number' ? claims.exp : null,
    memberships: memberships
      .filter((m) => m && (typeof m.workspace_id === 'number' || typeof m.workspace_id === 'string'))
      .map((m) => ({
        workspaceId: String(m.workspace_id),
        tenants: m.tenant_ids === '*' ? '*' : (Array.isArray(m.tenant_ids) ? m.tenant_ids.map(String) : []),
        capabilities: new Set(Array.isArray(m.capabilities) ? m.capabilities.filter((c) => typeof c === 'string') : []),
      })),
  };
}

/** Whether the token's `exp` has passed. */
export function isExpired(principal, now = Date.now()) {
  return principal.exp !== null && principal.exp * 1000 <= now;
}

export function membership(principal, workspaceId) {
  return principal.memberships.find((m) => m.workspaceId === String(workspaceId)) || null;
}

/** Whether the caller holds `capability` in `workspaceId` (the server decides; this only hides controls). */
export function can(principal, workspaceId, capability) {
  const m = membership(principal, workspaceId);
  return Boolean(m && m.capabilities.has(capability));
}

/** The workspace the Fleet page shows: the one picked, else the first membership. */
export function selectedWorkspace(principal) {
  const picked = sessionStorage.getItem(WORKSPACE_KEY);
  if (picked && membership(principal, picked)) return picked;
  return principal.memberships.length > 0 ? principal.memberships[0].workspaceId : null;
}

export function selectWorkspace(workspaceId) {
  sessionStorage.setItem(WORKSPACE_KEY, String(workspaceId));
}
