// The Run page (`/ui/runs/{id}`): one run view from `GET /v1/runs/{id}` (stored rows only), its
// checks issues first, the change since the previous report, report downloads, Verify again —
// and, while the run is queued or running, a poll every second that redraws its progress.

import { api, apiPath, describeError, download } from './api.js';
import { el, notice, replace } from './dom.js';
import {
  changeStateText, outcomeText, overallBadge, plural, runStatusText, shortId, time,
} from './format.js';
import { renderChecks } from './checks.js';
import { can } from './session.js';

const POLL_MS = 1000;

const FORMATS = [
  {
    id: 'sarif',
    label: 'SARIF',
    accept: 'application/sarif+json',
    extension: 'sarif',
    accepts: (type, text) => type.includes('sarif') || (type.includes('json') && looksLikeSarif(text)),
  },
  { id: 'junit', label: 'JUnit XML', accept: 'application/xml', extension: 'junit.xml', accepts: (type) => type.includes('xml') },
  { id: 'json', label: 'JSON', accept: 'application/json', extension: 'json', accepts: (type) => type.includes('json') },
];

function looksLikeSarif(text) {
  try {
    const parsed = JSON.parse(text);
    return parsed && parsed.version === '2.1.0' && Array.isArray(parsed.runs);
  } catch {
    return false;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

function summary(view, connectionName) {
  const { run } = view;
  const report = view.report;
  const connection = run.provider_connection_id
    ? el('a', { href: `/ui/workspaces/${run.workspace_id}/tenants/${run.tenant_id}/connections/${run.provider_connection_id}` },
      connectionName !== null ? connectionName : ['connection ', el('code', {}, shortId(run.provider_connection_id))],
      ' (history)')
    : el('span', { class: 'muted' }, 'none');
  const counts = report?.summary?.counts;
  const rows = [
    ['Run id', el('code', {}, String(run.id))],
    ['Overall', report ? overallBadge(report.summary.overall) : el('span', { class: 'muted' }, 'No report yet')],
    ['Status', `${runStatusText(run.status)} · ${outcomeText(run.outcome)}`],
    ['Flow', el('code', {}, String(run.flow))],
    ['Tenant', `${run.tenant_id} (workspace ${run.workspace_id})`],
    ['Connection', connection],
    ['Started by', run.initiator_user_id ? String(run.initiator_user_id) : 'the system'],
    ['Created', time(run.created_at)],
    ['Completed', time(run.completed_at)],
  ];
  if (counts) {
    rows.push(['Checks', `${plural(counts.total, 'check')}: ${counts.pass} passed, ${counts.fail} failed, `
      + `${plural(counts.warn, 'warning')}, ${counts.skip} skipped${counts.running ? `, ${counts.running} running` : ''}`]);
  }
  return el('dl', { class: 'summary' }, rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

function progress(view) {
  if (view.run.status === 'completed') return null;
  const counts = view.report?.summary?.counts;
  if (!counts) return notice('info', 'Queued: waiting for a worker. This page follows the run as it progresses.');
  const done = counts.total - counts.running;
  return el('div', { class: 'progress' },
    el('label', { for: 'run-progress' }, `Running: ${done} of ${counts.total} checks finished`),
    el('progress', { id: 'run-progress', max: String(counts.total), value: String(done) }, `${done}/${counts.total}`));
}

function changeBox(view) {
  const state = view.change?.state;
  if (!state || view.run.status !== 'completed') return null;
  const previous = view.change.previous_report_id;
  return el('p', { class: `change change--${state}`, 'data-change': state },
    'Change since the previous report: ', el('strong', {}, changeStateText(state)),
    previous ? ' — compared with ' : null,
    previous ? el('a', { href: `/ui/runs/${previous}` }, 'run ', el('code', {}, shortId(previous))) : null);
}

function actions(view, context, status) {
  const { run } = view;
  const box = el('div', { class: 'actions' });
  if (can(context.principal, run.workspace_id, 'verification.start')) {
    const again = el('button', { type: 'button', class: 'button-primary' }, 'Verify again');
    again.addEventListener('click', async () => {
      again.disabled = true;
      replace(status, 'Starting a verification…');
      try {
        const { data } = await api(`/v1/workspaces/${run.workspace_id}/tenants/${run.tenant_id}/verifications`, {
          method: 'POST',
          body: { flow: run.flow, provider_connection_id: run.provider_connection_id ?? null },
        });
        context.announce(data.deduplicated ? 'A verification of this identity was already active; showing it.' : 'Verification started.');
        context.navigate(`/ui/runs/${data.run.id}`);
      } catch (error) {
        again.disabled = false;
        replace(status, notice('error', describeError(error)));
      }
    });
    box.append(again);
  }
  if (view.report) {
    const downloads = el('div', { class: 'downloads', role: 'group', 'aria-label': 'Download the report' },
      el('span', { class: 'downloads-label' }, 'Download report:'));
    for (const format of FORMATS) {
      const button = el('button', { type: 'button', class: 'button-quiet', 'data-format': format.id }, format.label);
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          await download(apiPath(`/v1/runs/${run.id}/report`, { format: format.id }),
            `verdict-${run.id}.${format.extension}`, format.accept, format.accepts);
          context.announce(`${format.label} report downloaded.`);
        } catch (error) {
          replace(status, notice('error', describeError(error)));
        } finally {
          button.disabled = false;
        }
      });
      downloads.append(' ', button);
    }
    box.append(downloads);
  }
  return box;
}

export async function render(context) {
  const { main, params, signal } = context;
  const runId = params.runId.toLowerCase();
  context.setTitle(`Run ${shortId(runId)}`);
  const heading = el('h1', { tabindex: '-1' }, 'Verification run');
  const status = el('div', { class: 'page-status' });
  replace(main, heading, el('p', { class: 'muted' }, 'Loading the run…'));
  let view;
  try {
    view = (await api(`/v1/runs/${runId}`, { signal })).data;
  } catch (error) {
    if (signal.aborted) return;
    replace(main, heading, notice('error', error.status === 404
      ? 'This run does not exist, or you may not see it.'
      : describeError(error)));
    return;
  }
  const acknowledgements = new Map();
  const canAcknowledge = can(context.principal, view.run.workspace_id, 'verification.acknowledge');
  const summaryBox = el('div');
  const progressBox = el('div', { 'aria-live': 'off' });
  const changeArea = el('div');
  const actionsBox = el('div');
  const checksBox = el('div', { class: 'run-checks' });
  replace(main, heading, summaryBox, progressBox, changeArea, actionsBox, status, checksBox);

  let connectionName = null;
  let drawnKey = null;
  let actionsDrawnFor = null;
  const draw = () => {
    const key = JSON.stringify([view.run.status, view.report, connectionName]);
    if (key === drawnKey) return;
    drawnKey = key;
    replace(summaryBox, summary(view, connectionName));
    replace(progressBox, progress(view));
    replace(changeArea, changeBox(view));
    const actionsKey = `${view.run.status}:${Boolean(view.report)}`;
    if (actionsKey !== actionsDrawnFor) {
      actionsDrawnFor = actionsKey;
      replace(actionsBox, actions(view, context, status));
    }
    replace(checksBox, renderChecks(view, { canAcknowledge, announce: context.announce, acknowledgements }));
  };
  draw();
  if (view.run.provider_connection_id) {
    const { run } = view;
    api(`/v1/workspaces/${run.workspace_id}/tenants/${run.tenant_id}/provider-connections/${run.provider_connection_id}`, { signal })
      .then(({ data }) => {
        connectionName = String(data.display_name);
        draw();
      })
      .catch(() => {});
  }

  if (view.run.status !== 'completed') {
    context.announce('The run is in progress; this page follows it.');
    follow();
  }

  async function follow() {
    while (!signal.aborted && view.run.status !== 'completed') {
      await sleep(POLL_MS, signal);
      if (signal.aborted) return;
      try {
        view = (await api(`/v1/runs/${runId}`, { signal })).data;
        replace(status);
      } catch (error) {
        if (signal.aborted) return;
        replace(status, notice('warning', `Could not refresh the run: ${describeError(error)} Retrying.`));
        continue;
      }
      draw();
    }
    if (!signal.aborted && view.report) {
      context.announce(`The run completed: ${view.report.summary.overall.replace('_', ' ')}.`);
    }
  }
}
