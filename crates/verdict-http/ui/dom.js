// Building the page without ever parsing HTML: elements are created one by one, text is set as
// text nodes, attributes through setAttribute from a closed set of names. A hostile display name
// or message can therefore never become markup (docs/contract.md#fleet-status-and-the-operator-view).

const SAFE_ATTRIBUTES = new Set([
  'id', 'class', 'href', 'rel', 'role', 'title', 'type', 'name', 'value', 'for', 'min', 'max', 'step',
  'placeholder', 'autocomplete', 'spellcheck', 'rows', 'cols', 'datetime', 'tabindex', 'hidden', 'open',
  'disabled', 'required', 'novalidate', 'inputmode', 'pattern', 'scope', 'lang', 'download', 'colspan',
  'aria-label', 'aria-labelledby', 'aria-describedby', 'aria-live', 'aria-busy', 'aria-current',
  'aria-invalid', 'aria-hidden', 'aria-expanded', 'aria-controls', 'aria-atomic',
  'data-check-key', 'data-ack-for', 'data-section', 'data-run-id', 'data-connection-id', 'data-overall',
  'data-status', 'data-change', 'data-format', 'data-page',
]);

/**
 * `el('a', {href: '/ui/', class: 'x'}, 'text', child, [more])`: attribute values are set with
 * setAttribute (only names from the closed set, never `on…` or `style`), strings become text
 * nodes, null/false children are skipped.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (!SAFE_ATTRIBUTES.has(name)) throw new Error(`attribute not allowed: ${name}`);
    if (name === 'href' && safeHref(String(value)) === null) throw new Error('unsafe link');
    node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.append(child);
    else node.append(document.createTextNode(String(child)));
  }
}

/** Replaces every child of `node`. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/**
 * A link target that is safe to follow: a relative path (no scheme, not protocol-relative) or an
 * `https:` URL; null for anything else (script or data URLs, plain http, …). Whitespace, control
 * characters and backslashes are refused outright because browsers strip or reinterpret them.
 */
export function safeHref(url) {
  if (typeof url !== 'string' || url.length === 0 || url.length > 2048) return null;
  if (/[\u0000-\u0020\u007f\\]/.test(url)) return null;
  if (url.startsWith('//')) return null;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!scheme) return url;
  if (scheme[1].toLowerCase() !== 'https' || !/^https:\/\/[^/]/i.test(url)) return null;
  try {
    return new URL(url).protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/** A next step: a link when its URL is safe, otherwise its label and URL as plain text. */
export function outboundLink(label, url) {
  const href = safeHref(url);
  if (href === null) return el('span', { class: 'unlinked' }, label, url ? ` (${url})` : '');
  return el('a', { href, rel: 'noopener noreferrer' }, label);
}

/** A link to a page of the view, followed without reloading (see app.js). */
export function pageLink(path, ...children) {
  return el('a', { href: path }, ...children);
}

/** `<label>` + control, tied by id. */
export function field(id, labelText, control, hint = null) {
  control.setAttribute('id', id);
  const parts = [el('label', { for: id }, labelText), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute('aria-describedby', hintId);
    parts.push(el('p', { id: hintId, class: 'hint' }, hint));
  }
  return el('div', { class: 'field' }, parts);
}

/** A short text message in a box: `kind` is info, warning or error. */
export function notice(kind, ...children) {
  return el('div', { class: `notice notice--${kind}`, role: kind === 'error' ? 'alert' : null }, ...children);
}

/** Unique ids for labels within one render. */
let counter = 0;
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}
