// The checks of one report, issues first (docs/contract.md#fleet-status-and-the-operator-view): blockers, then failures, then warnings, each
// with message, reason, evidence and next steps; checks still running; then passed and skipped
// checks folded away. Acknowledgements sit beside their checks, and a failing or warning check of
// a completed run gets an Acknowledge form when the caller may acknowledge.

import { api, ApiError, describeError } from './api.js';
import { el, field, notice, outboundLink, replace, uid } from './dom.js';
import { changeBadge, codePoints, localToRfc3339, severityText, statusBadge, time } from './format.js';

export const MAX_REASON = 160;

const GROUPS = [
  { id: 'blockers', title: 'Blockers', test: (c) => c.status === 'fail' && c.blocking },
  { id: 'failures', title: 'Failures', test: (c) => c.status === 'fail' && !c.blocking },
  { id: 'warnings', title: 'Warnings', test: (c) => c.status === 'warn' },
  { id: 'running', title: 'Still running', test: (c) => c.status === 'running' },
];

function evidenceList(evidence) {
  if (!Array.isArray(evidence) || evidence.length === 0) return null;
  return el('div', { class: 'evidence' },
    el('h4', {}, 'Evidence'),
    el('dl', {}, evidence.flatMap((item) => [el('dt', {}, String(item.kind)), el('dd', {}, el('code', {}, String(item.value)))])));
}

function nextSteps(steps) {
  if (!Array.isArray(steps) || steps.length === 0) return null;
  return el('div', { class: 'next-steps' },
    el('h4', {}, 'Next steps'),
    el('ul', {}, steps.map((step) => el('li', {}, outboundLink(String(step.label ?? step.url), String(step.url ?? ''))))));
}

/** An acknowledgement as shown beside its check. */
export function acknowledgementView(ack) {
  return el('div', { class: 'ack', 'data-ack-for': ack.check_key, tabindex: '-1' },
    el('p', {},
      el('strong', {}, 'Acknowledged'), ' by ', el('span', { class: 'ack-who' }, String(ack.acknowledged_by_user_id)),
      ' on ', time(ack.acknowledged_at), ack.expired ? ' ' : null,
      ack.expired ? el('span', { class: 'badge badge--expired' }, 'expired') : null),
    el('p', { class: 'ack-reason' }, 'Reason: ', el('q', {}, String(ack.ack_reason))),
    ack.expires_at ? el('p', { class: 'ack-expiry' }, ack.expired ? 'Expired on ' : 'Expires on ', time(ack.expires_at)) : null);
}

function acknowledgeForm(runId, check, onAcknowledged) {
  const reasonId = uid('ack-reason');
  const counterId = `${reasonId}-counter`;
  const reason = el('textarea', { rows: '3', required: true, 'aria-describedby': counterId });
  const counter = el('p', { id: counterId, class: 'counter' }, `0/${MAX_REASON}`);
  const expires = el('input', { type: 'datetime-local' });
  const error = el('div', { class: 'form-error' });
  const submit = el('button', { type: 'submit' }, 'Acknowledge');
  const form = el('form', { class: 'ack-form', 'data-ack-for': check.key, novalidate: true },
    el('div', { class: 'field' }, el('label', { for: reasonId }, 'Reason'), reason, counter),
    field(uid('ack-expires'), 'Expires (optional, your local time)', expires),
    submit, error);
  reason.setAttribute('id', reasonId);
  const count = () => {
    const n = codePoints(reason.value);
    counter.textContent = `${n}/${MAX_REASON}`;
    const over = n > MAX_REASON;
    counter.classList.toggle('counter--over', over);
    if (over) reason.setAttribute('aria-invalid', 'true');
    else reason.removeAttribute('aria-invalid');
    return n;
  };
  reason.addEventListener('input', count);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const n = count();
    const text = reason.value.trim();
    let problem = null;
    if (n === 0) problem = 'Write a reason.';
    else if (n > MAX_REASON) problem = `The reason is ${n} characters long; at most ${MAX_REASON} are allowed.`;
    // The server refuses control characters (line breaks included): say so before sending.
    else if (/[\u0000-\u001f\u007f-\u009f]/.test(text)) problem = 'The reason must be one line, without control characters.';
    if (problem) {
      replace(error, notice('error', problem));
      reason.focus();
      return;
    }
    submit.disabled = true;
    replace(error);
    const body = { check_key: check.key, ack_reason: text, expires_at: localToRfc3339(expires.value), report_id: runId };
    try {
      const { data } = await api(`/v1/runs/${runId}/acknowledgements`, { method: 'POST', body });
      onAcknowledged(data, 'Acknowledged.');
    } catch (failure) {
      submit.disabled = false;
      if (failure instanceof ApiError && failure.code === 'already_acknowledged' && failure.body?.error?.acknowledgement) {
        onAcknowledged(failure.body.error.acknowledgement, 'This check had already been acknowledged.');
        return;
      }
      replace(error, notice('error', describeError(failure)));
    }
  });
  return el('details', { class: 'ack-toggle' }, el('summary', {}, 'Acknowledge…'), form);
}

function checkArticle(check, context) {
  const { runId, change, acknowledgements, canAcknowledge, completed, announce } = context;
  const issue = check.status === 'fail' || check.status === 'warn';
  const ackArea = el('div', { class: 'ack-area' });
  const ack = acknowledgements.get(check.key);
  if (ack) {
    ackArea.append(acknowledgementView(ack));
  } else if (issue && completed && canAcknowledge) {
    ackArea.append(acknowledgeForm(runId, check, (created, message) => {
      acknowledgements.set(check.key, created);
      const view = acknowledgementView(created);
      replace(ackArea, view);
      view.focus();
      announce(`${message} ${check.title}`);
    }));
  }
  const kind = check.status === 'fail' && check.blocking ? 'blocker' : check.status;
  return el('article', { class: `check check--${kind}`, 'data-check-key': check.key },
    el('div', { class: 'check-head' },
      el('h3', {}, String(check.title)),
      el('div', { class: 'badges' }, statusBadge(check), ' ', changeBadge(change.get(check.key)),
        ' ', el('span', { class: 'severity' }, severityText(check.severity)))),
    check.message ? el('p', { class: 'message' }, String(check.message)) : null,
    el('p', { class: 'facts' }, 'Reason code ', el('code', {}, String(check.reason_code)), ' · check ', el('code', {}, String(check.key))),
    evidenceList(check.evidence),
    nextSteps(check.next_steps),
    ackArea);
}

/**
 * The checks of `view` (the run view of `GET /v1/runs/{id}`). `canAcknowledge` shows the forms;
 * acknowledgements made here are kept in `acknowledgements` so a later redraw shows them too.
 */
export function renderChecks(view, { canAcknowledge, announce, acknowledgements }) {
  const checks = Array.isArray(view.report?.checks) ? view.report.checks : [];
  const change = new Map((view.change?.checks ?? []).map((c) => [c.key, c.change]));
  for (const ack of view.acknowledgements ?? []) if (!acknowledgements.has(ack.check_key)) acknowledgements.set(ack.check_key, ack);
  const context = {
    runId: view.run.id,
    change,
    acknowledgements,
    canAcknowledge,
    completed: view.run.status === 'completed',
    announce,
  };
  const sections = [];
  let issues = 0;
  for (const group of GROUPS) {
    const members = checks.filter(group.test);
    if (members.length === 0) continue;
    if (group.id !== 'running') issues += members.length;
    const headingId = uid(`section-${group.id}`);
    sections.push(el('section', { class: `checks checks--${group.id}`, 'data-section': group.id, 'aria-labelledby': headingId },
      el('h2', { id: headingId }, `${group.title} (${members.length})`),
      members.map((check) => checkArticle(check, context))));
  }
  if (issues === 0 && context.completed && checks.length > 0) {
    sections.push(notice('info', 'No issues: every check passed or was skipped.'));
  }
  const quiet = checks.filter((c) => c.status === 'pass' || c.status === 'skip');
  if (quiet.length > 0) {
    const passed = quiet.filter((c) => c.status === 'pass').length;
    sections.push(el('details', { class: 'checks checks--passed', 'data-section': 'passed' },
      el('summary', {}, `Passed and skipped checks (${passed} passed, ${quiet.length - passed} skipped)`),
      quiet.map((check) => checkArticle(check, context))));
  }
  const removed = [...change.entries()].filter(([, c]) => c === 'removed').map(([key]) => key);
  if (removed.length > 0) {
    sections.push(el('section', { class: 'checks checks--removed', 'data-section': 'removed', 'aria-label': 'Removed checks' },
      el('h2', {}, `No longer checked (${removed.length})`),
      el('ul', {}, removed.map((key) => el('li', {}, el('code', {}, key), ' ', changeBadge('removed'))))));
  }
  return sections;
}
