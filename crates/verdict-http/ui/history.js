// The History page (`/ui/workspaces/{ws}/tenants/{t}/connections/{id}`): the connection, its
// schedule (docs/contract.md#continuous-verification, when the server has schedules) and its runs newest first, with each run's
// overall filled in from its run view, and the overall over time as a strip of badges.

import { api, apiPath, describeError } from './api.js';
import { el, notice, replace } from './dom.js';
import { changeStateText, expiry, interval, outcomeText, overallBadge, runStatusText, shortId, time } from './format.js';

const PAGE_SIZE = 20;
const VIEW_CONCURRENCY = 4;

function connectionFacts(connection) {
  const rows = [
    ['Directory (tenant) id', el('code', {}, String(connection.entra_tenant_id))],
    ['Client id', el('code', {}, String(connection.client_id))],
    ['Secret', connection.has_secret ? 'set' : el('span', { class: 'badge badge--blocked' }, 'missing')],
    ['Secret updated', time(connection.secret_updated_at)],
    ['Credential expiry', expiry(connection.client_secret_expires_at)],
    ['State', connection.disabled_at
      ? el('span', {}, el('span', { class: 'badge badge--blocked' }, 'Disabled'), ' since ', time(connection.disabled_at))
      : 'Enabled'],
  ];
  return el('dl', { class: 'summary' }, rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

async function scheduleFacts(base, signal) {
  try {
    const { data } = await api(`${base}/schedule`, { signal });
    return el('p', {}, 'Schedule: ', el('strong', {}, interval(data.interval)), '; next run ', time(data.next_run_at), '.');
  } catch (error) {
    if (signal.aborted) throw error;
    if (error.status === 404 || error.status === 405) return el('p', {}, 'Schedule: ', el('strong', {}, 'not scheduled'), '.');
    return el('p', { class: 'muted' }, `Schedule: unavailable (${describeError(error)})`);
  }
}

/** Fetches run views a few at a time and hands each to `each` as it arrives. */
async function enrich(runs, signal, each) {
  const queue = [...runs];
  const worker = async () => {
    while (queue.length > 0 && !signal.aborted) {
      const run = queue.shift();
      try {
        each(run, (await api(`/v1/runs/${run.id}`, { signal })).data);
      } catch {
        if (signal.aborted) return;
      }
    }
  };
  await Promise.all(Array.from({ length: VIEW_CONCURRENCY }, worker));
}

export async function render(context) {
  const { main, params, signal } = context;
  const { workspaceId, tenantId, connectionId } = params;
  const base = `/v1/workspaces/${workspaceId}/tenants/${tenantId}/provider-connections/${connectionId}`;
  context.setTitle('Connection history');
  const heading = el('h1', { tabindex: '-1' }, 'Connection history');
  replace(main, heading, el('p', { class: 'muted' }, 'Loading the connection…'));
  let connection;
  try {
    connection = (await api(base, { signal })).data;
  } catch (error) {
    if (signal.aborted) return;
    replace(main, heading, notice('error', error.status === 404
      ? 'This connection does not exist, or you may not see it.'
      : describeError(error)));
    return;
  }
  context.setTitle(`${connection.display_name} — history`);
  replace(heading, el('span', { class: 'connection-name' }, String(connection.display_name)));
  const tableBody = el('tbody');
  const strip = el('ol', { class: 'timeline', 'aria-label': 'Overall of each run, oldest first' });
  const more = el('button', { type: 'button', hidden: true }, 'Load more runs');
  const status = el('div', { class: 'page-status' });
  replace(main,
    heading,
    el('p', { class: 'muted' }, `Tenant ${tenantId} · workspace ${workspaceId}`),
    connectionFacts(connection),
    await scheduleFacts(base, signal),
    el('h2', {}, 'Overall over time'),
    strip,
    el('h2', {}, 'Runs'),
    el('div', { class: 'table-wrap' },
      el('table', { class: 'runs' },
        el('thead', {}, el('tr', {},
          ['Created', 'Status', 'Outcome', 'Overall', 'Change', 'Run'].map((h) => el('th', { scope: 'col' }, h)))),
        tableBody)),
    more,
    status);

  const timeline = [];
  const drawStrip = () => {
    const ordered = [...timeline].sort((a, b) => String(a.created).localeCompare(String(b.created)));
    replace(strip, ordered.map((entry) => el('li', {},
      el('a', { href: `/ui/runs/${entry.id}`, title: entry.created }, overallBadge(entry.overall)))));
  };

  let cursor = null;
  const loadPage = async () => {
    more.disabled = true;
    let page;
    try {
      page = (await api(apiPath(`/v1/workspaces/${workspaceId}/tenants/${tenantId}/runs`,
        { provider_connection_id: connectionId, limit: PAGE_SIZE, cursor }), { signal })).data;
    } catch (error) {
      if (signal.aborted) return;
      replace(status, notice('error', describeError(error)));
      more.disabled = false;
      return;
    }
    const runs = Array.isArray(page.runs) ? page.runs : [];
    if (runs.length === 0 && cursor === null) {
      tableBody.append(el('tr', {}, el('td', { colspan: '6' }, 'No runs yet.')));
    }
    const cells = new Map();
    for (const run of runs) {
      const overall = el('td', {}, el('span', { class: 'muted' }, '…'));
      const change = el('td', {}, el('span', { class: 'muted' }, '…'));
      cells.set(run.id, { overall, change });
      tableBody.append(el('tr', { 'data-run-id': run.id },
        el('td', {}, time(run.created_at)),
        el('td', {}, runStatusText(run.status)),
        el('td', {}, outcomeText(run.outcome)),
        overall,
        change,
        el('td', {}, el('a', { href: `/ui/runs/${run.id}` }, 'Open run ', el('code', {}, shortId(run.id))))));
    }
    cursor = page.next_cursor ?? null;
    more.hidden = cursor === null;
    more.disabled = false;
    await enrich(runs, signal, (run, view) => {
      const cell = cells.get(run.id);
      const overall = view.report?.summary?.overall;
      replace(cell.overall, overall ? overallBadge(overall) : el('span', { class: 'muted' }, 'no report yet'));
      replace(cell.change, view.run.status === 'completed' ? changeStateText(view.change?.state) : '—');
      if (overall) {
        timeline.push({ id: run.id, created: run.created_at, overall });
        drawStrip();
      }
    });
  };
  more.addEventListener('click', () => loadPage());
  await loadPage();
}
