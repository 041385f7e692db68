// Words, badges and times shared by the pages. Badges always carry text (never colour alone).

import { el } from './dom.js';

const OVERALL = {
  ready: 'Ready',
  needs_attention: 'Needs attention',
  blocked: 'Blocked',
  running: 'Running',
};

const STATUS = {
  pass: 'Passed',
  fail: 'Failed',
  warn: 'Warning',
  skip: 'Skipped',
  running: 'Running',
};

const CHANGE = {
  added: 'New check',
  removed: 'Removed',
  unchanged: 'Unchanged',
  regressed: 'Regressed',
  improved: 'Improved',
  changed: 'Changed',
};

const CHANGE_STATE = {
  none: 'First report',
  unchanged: 'Unchanged',
  changed: 'Changed',
};

const RUN_STATUS = { queued: 'Queued', running: 'Running', completed: 'Completed' };
const OUTCOME = { pending: 'Pending', succeeded: 'Succeeded', failed: 'Failed', blocked: 'Blocked' };

function known(table, value) {
  return Object.prototype.hasOwnProperty.call(table, value) ? table[value] : String(value ?? 'unknown');
}

function cssToken(value) {
  return String(value ?? 'unknown').replace(/[^a-z0-9_-]/gi, '').toLowerCase() || 'unknown';
}

export function overallBadge(overall) {
  return el('span', { class: `badge badge--${cssToken(overall)}`, 'data-overall': overall }, known(OVERALL, overall));
}

export function overallText(overall) {
  return known(OVERALL, overall);
}

/** A check's status; a blocker (failed and blocking) says so. */
export function statusBadge(check) {
  if (check.status === 'fail' && check.blocking) {
    return el('span', { class: 'badge badge--blocked', 'data-status': 'blocker' }, 'Blocker');
  }
  return el('span', { class: `badge badge--${cssToken(check.status)}`, 'data-status': check.status }, known(STATUS, check.status));
}

export function changeBadge(change) {
  if (!change) return null;
  return el('span', { class: `badge badge--change badge--change-${cssToken(change)}`, 'data-change': change }, known(CHANGE, change));
}

export function changeStateText(state) {
  return known(CHANGE_STATE, state);
}

export function runStatusText(status) {
  return known(RUN_STATUS, status);
}

export function outcomeText(outcome) {
  return known(OUTCOME, outcome);
}

export function severityText(severity) {
  return severity ? `severity ${severity}` : 'severity unknown';
}

/** `<time>` with the local date and time as text and the instant as its `datetime`. */
export function time(iso) {
  if (!iso) return el('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return el('span', {}, String(iso));
  const text = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return el('time', { datetime: iso, title: iso }, text);
}

/** Whole days from now until `iso` (negative when past). */
export function daysUntil(iso, now = Date.now()) {
  const at = new Date(iso).getTime();
  if (Number.isNaN(at)) return null;
  return Math.floor((at - now) / 86_400_000);
}

/** The credential expiry with a badge when it is near (30 days, docs/contract.md#provider-flow) or past. */
export function expiry(iso) {
  if (!iso) return el('span', { class: 'muted' }, 'Unknown');
  const days = daysUntil(iso);
  let badge = null;
  if (days !== null && days < 0) badge = el('span', { class: 'badge badge--blocked' }, 'Expired');
  else if (days !== null && days <= 30) badge = el('span', { class: 'badge badge--needs_attention' }, `Expires in ${days} d`);
  return el('span', { class: 'expiry' }, time(iso), badge ? ' ' : null, badge);
}

/** `PT6H` → `every 6 h`; anything unexpected is shown as it is. */
export function interval(iso8601) {
  if (!iso8601) return 'Not scheduled';
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(String(iso8601));
  if (!match) return String(iso8601);
  const parts = [];
  if (match[1]) parts.push(`${match[1]} d`);
  if (match[2]) parts.push(`${match[2]} h`);
  if (match[3]) parts.push(`${match[3]} min`);
  if (match[4]) parts.push(`${match[4]} s`);
  return parts.length > 0 ? `every ${parts.join(' ')}` : String(iso8601);
}

/** Unicode scalar values after trimming, as the server counts an acknowledgement reason. */
export function codePoints(text) {
  return [...text.trim()].length;
}

/** A `datetime-local` value (local wall time) as RFC 3339 UTC without fractions, or null. */
export function localToRfc3339(value) {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A short id for links and tables: the last 8 characters of a UUID (UUIDv7 ids start with their
 * timestamp, so ids made together share a prefix; the tail is random).
 */
export function shortId(id) {
  return `…${String(id ?? '').slice(-8)}`;
}

/** `1 warning`, `2 warnings`. */
export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}
