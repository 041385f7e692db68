// The one way the page talks to Verdict: same-origin `fetch` to `/v1/…` with the bearer token in
// the Authorization header, never in a URL or a cookie. Errors come back as ApiError carrying the
// API's error shape (docs/contract.md#http-api): `{error: {code, message, details: [{field, problem}]}}`.

import { currentToken, parseJson } from './session.js';

export class ApiError extends Error {
  constructor(status, code, message, details = [], body = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.body = body;
  }
}

let unauthorizedHandler = () => {};

/** Called on every 401 (an expired or rejected token). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** Builds `/v1/…?query` from parts; empty and null query values are left out. */
export function apiPath(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function send(path, { method = 'GET', body, accept = 'application/json', signal } = {}) {
  if (!path.startsWith('/v1/')) throw new Error(`not an API path: ${path}`);
  const token = currentToken();
  if (!token) {
    unauthorizedHandler();
    throw new ApiError(401, 'unauthenticated', 'You are not signed in.');
  }
  if (path.includes(token)) throw new Error('refusing to put the token in a URL');
  const headers = { Authorization: `Bearer ${token}`, Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      referrerPolicy: 'no-referrer',
      signal,
    });
  } catch (error) {
    if (error && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'Verdict could not be reached. Check your connection and try again.');
  }
  if (!response.ok) {
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? parseJson(text) : null;
    } catch {
      parsed = null;
    }
    const error = parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object'
      ? parsed.error
      : null;
    if (response.status === 401) unauthorizedHandler();
    throw new ApiError(
      response.status,
      error && typeof error.code === 'string' ? error.code : `http_${response.status}`,
      error && typeof error.message === 'string' ? error.message : `The server answered HTTP ${response.status}.`,
      error && Array.isArray(error.details) ? error.details : [],
      parsed,
    );
  }
  return response;
}

/** A JSON call: resolves to `{status, data}`. */
export async function api(path, options = {}) {
  const response = await send(path, options);
  const text = await response.text();
  return { status: response.status, data: text ? parseJson(text) : null };
}

/**
 * Downloads `path` as a file named `filename`: fetched with the bearer header, then saved through
 * a Blob URL, so no URL ever carries the token. `accepts(contentType, text)` says whether the
 * answer is the expected format (an older server may answer JSON to a format it does not know).
 */
export async function download(path, filename, accept, accepts) {
  const response = await send(path, { accept });
  const contentType = response.headers.get('Content-Type') || '';
  const blob = await response.blob();
  if (!accepts(contentType.toLowerCase(), await blob.text())) {
    throw new ApiError(response.status, 'unsupported_format', 'This server cannot export that format yet.');
  }
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Human text for an error, with its field problems. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return 'Something went wrong in the page. Reload and try again.';
  const problems = error.details
    .filter((d) => d && typeof d === 'object')
    .map((d) => `${String(d.field ?? '')}: ${String(d.problem ?? '')}`);
  return problems.length > 0 ? `${error.message} (${problems.join('; ')})` : error.message;
}
