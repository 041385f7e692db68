// The Fleet page (`/ui/`): the latest verification of every connection the caller may see, from
// `GET /v1/workspaces/{ws}/verification-status` (docs/contract.md, "Fleet status and the
// operator view"), with the API's filters kept in the page's query string and keyset "load more".

import { api, apiPath, describeError, download } from './api.js';
import { el, field, notice, replace } from './dom.js';
import { changeStateText, expiry, interval, overallBadge, shortId, time } from './format.js';
import { membership, selectedWorkspace } from './session.js';

const PAGE_SIZE = 50;
const FILTERS = ['tenant_id', 'overall', 'expiring_within_days', 'stale_after_hours'];

/** The rows of a page. */
function rowsOf(data) {
  return data && Array.isArray(data.rows) ? data.rows : [];
}

const RANK = { blocked: 0, needs_attention: 1, running: 2, ready: 3 };

function rank(row) {
  const overall = row.status === 'queued' || row.status === 'running' ? 'running' : row.overall;
  return Object.prototype.hasOwnProperty.call(RANK, overall) ? RANK[overall] : 4;
}

function historyPath(workspaceId, row) {
  return `/ui/workspaces/${workspaceId}/tenants/${row.tenant_id}/connections/${row.provider_connection_id}`;
}

function fleetRow(workspaceId, row) {
  const active = row.status === 'queued' || row.status === 'running';
  const overall = active ? 'running' : row.overall;
  const name = row.connection_display_name ? String(row.connection_display_name) : 'No connection';
  return el('tr', { 'data-run-id': row.run_id, 'data-connection-id': row.provider_connection_id, 'data-overall': overall },
    el('th', { scope: 'row' }, row.provider_connection_id
      ? el('a', { href: historyPath(workspaceId, row) }, name)
      : el('span', { class: 'muted' }, name)),
    el('td', {}, String(row.tenant_id)),
    el('td', {}, row.run_id ? el('a', { href: `/ui/runs/${row.run_id}` }, overallBadge(overall)) : overallBadge(overall)),
    el('td', {}, time(row.completed_at)),
    el('td', {}, row.change_state ? changeStateText(row.change_state) : '—'),
    el('td', {}, expiry(row.credential_expires_at)),
    el('td', {}, interval(row.schedule_interval), row.next_run_at ? el('br') : null,
      row.next_run_at ? el('span', { class: 'muted' }, 'next ', time(row.next_run_at)) : null),
    el('td', { class: 'links' },
      row.run_id ? el('a', { href: `/ui/runs/${row.run_id}` }, 'Run ', el('code', {}, shortId(row.run_id))) : null,
      row.run_id && row.provider_connection_id ? el('br') : null,
      row.provider_connection_id ? el('a', { href: historyPath(workspaceId, row) }, 'History') : null));
}

function filterForm(member, values) {
  const tenant = member.tenants === '*'
    ? el('input', { type: 'number', min: '1', inputmode: 'numeric' })
    : el('select', {}, el('option', { value: '' }, 'All tenants'), member.tenants.map((t) => el('option', { value: t }, `Tenant ${t}`)));
  const overall = el('select', {},
    [['', 'Any'], ['blocked', 'Blocked'], ['needs_attention', 'Needs attention'], ['ready', 'Ready'], ['running', 'Running']]
      .map(([value, label]) => el('option', { value }, label)));
  const expiring = el('input', { type: 'number', min: '0', inputmode: 'numeric' });
  const stale = el('input', { type: 'number', min: '1', inputmode: 'numeric' });
  const controls = { tenant_id: tenant, overall, expiring_within_days: expiring, stale_after_hours: stale };
  for (const name of FILTERS) controls[name].value = values.get(name) ?? '';
  const form = el('form', { class: 'filters', 'aria-label': 'Filter connections' },
    field('fleet-tenant', 'Tenant', tenant),
    field('fleet-overall', 'Overall', overall),
    field('fleet-expiring', 'Credential expires within (days)', expiring),
    field('fleet-stale', 'Not verified for (hours)', stale),
    el('button', { type: 'submit' }, 'Apply filters'));
  return { form, controls };
}

export async function render(context) {
  const { main, principal, signal } = context;
  const workspaceId = selectedWorkspace(principal);
  context.setTitle('Fleet');
  const heading = el('h1', { tabindex: '-1' }, 'Fleet');
  if (workspaceId === null) {
    replace(main, heading, notice('warning', 'Your token has no workspace membership, so there is nothing to show.'));
    return;
  }
  const member = membership(principal, workspaceId);
  const values = new URLSearchParams(location.search);
  const { form, controls } = filterForm(member, values);
  const tableBody = el('tbody');
  const more = el('button', { type: 'button', hidden: true }, 'Load more');
  const status = el('div', { class: 'page-status' });
  const csv = el('button', { type: 'button', class: 'button-quiet' }, 'Download CSV');
  const table = el('div', { class: 'table-wrap' }, el('table', { class: 'fleet' },
    el('thead', {}, el('tr', {}, ['Connection', 'Tenant', 'Overall', 'Last verified', 'Change', 'Credential expiry', 'Schedule', 'Open']
      .map((h) => el('th', { scope: 'col' }, h)))),
    tableBody));
  replace(main, heading, el('p', { class: 'muted' }, `Workspace ${workspaceId}: the latest verification of every connection, issues first.`),
    form, table, more, csv, status);

  const query = () => Object.fromEntries(FILTERS.map((name) => [name, values.get(name)]));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of FILTERS) {
      const value = String(controls[name].value).trim();
      if (value) next.set(name, value);
    }
    const search = next.toString();
    context.navigate(`/ui/${search ? `?${search}` : ''}`);
  });
  csv.addEventListener('click', async () => {
    try {
      await download(apiPath(`/v1/workspaces/${workspaceId}/verification-status`, { ...query(), format: 'csv' }),
        `verdict-fleet-${workspaceId}.csv`, 'text/csv', (type) => type.includes('csv'));
      context.announce('CSV downloaded.');
    } catch (error) {
      replace(status, notice('error', describeError(error)));
    }
  });

  let cursor = null;
  const loaded = [];
  const loadPage = async () => {
    more.disabled = true;
    let data;
    try {
      data = (await api(apiPath(`/v1/workspaces/${workspaceId}/verification-status`, { ...query(), limit: PAGE_SIZE, cursor }),
        { signal })).data;
    } catch (error) {
      if (signal.aborted) return;
      more.disabled = false;
      replace(status, notice('error', describeError(error)));
      return;
    }
    loaded.push(...rowsOf(data));
    // Issues first: the loaded rows by overall (a stable sort keeps the API's order within one).
    const ordered = [...loaded].sort((a, b) => rank(a) - rank(b));
    replace(tableBody, ordered.length === 0
      ? el('tr', {}, el('td', { colspan: '8' }, 'No connection matches.'))
      : ordered.map((row) => fleetRow(workspaceId, row)));
    cursor = data && typeof data === 'object' && !Array.isArray(data) ? data.next_cursor ?? null : null;
    more.hidden = cursor === null;
    more.disabled = false;
    replace(status);
  };
  more.addEventListener('click', () => loadPage());
  await loadPage();
}
