// The Audit page (`/ui/workspaces/{ws}/audit`): whether the workspace's hash chain verifies
// (`…/audit-events/verify`) and its events in `seq` order, a page at a time (`after_seq`).

import { api, apiPath, describeError } from './api.js';
import { el, field, notice, replace } from './dom.js';
import { time } from './format.js';
import { can } from './session.js';

const PAGE_SIZE = 50;

function chainStatus(result) {
  if (result.valid) {
    return notice('info', el('strong', {}, 'Chain intact. '),
      `All ${result.events_checked} events verify against the stored chain head.`);
  }
  return notice('error', el('strong', {}, 'Chain broken. '),
    result.first_broken_seq !== null && result.first_broken_seq !== undefined
      ? `The first broken event is seq ${result.first_broken_seq} (${result.events_checked} events checked).`
      : `${result.events_checked} events checked.`);
}

function who(party) {
  if (!party || typeof party !== 'object') return '—';
  return `${String(party.type ?? '')}: ${String(party.id ?? '')}`;
}

function eventRow(event) {
  const metadata = event.metadata && typeof event.metadata === 'object' ? JSON.stringify(event.metadata) : '';
  return el('tr', {},
    el('td', {}, String(event.seq)),
    el('td', {}, time(event.occurred_at)),
    el('td', {}, el('code', {}, String(event.action))),
    el('td', {}, who(event.actor)),
    el('td', {}, who(event.subject)),
    el('td', {}, event.tenant_id === null || event.tenant_id === undefined ? '—' : String(event.tenant_id)),
    el('td', { class: 'metadata' }, el('code', {}, metadata)));
}

export async function render(context) {
  const { main, params, signal, principal } = context;
  const { workspaceId } = params;
  context.setTitle(`Audit — workspace ${workspaceId}`);
  const heading = el('h1', { tabindex: '-1' }, `Audit trail of workspace ${workspaceId}`);
  if (!can(principal, workspaceId, 'audit.read')) {
    replace(main, heading, notice('warning', 'Reading the audit trail needs the audit.read capability in this workspace.'));
    return;
  }
  const chainBox = el('div', {}, el('p', { class: 'muted' }, 'Verifying the chain…'));
  const tableBody = el('tbody');
  const more = el('button', { type: 'button', hidden: true }, 'Load more events');
  const status = el('div', { class: 'page-status' });
  const tenant = el('input', { type: 'number', min: '1', inputmode: 'numeric' });
  const action = el('input', { type: 'text', placeholder: 'e.g. verification.completed', spellcheck: 'false' });
  const filters = el('form', { class: 'filters', 'aria-label': 'Filter events' },
    field('audit-tenant', 'Tenant id', tenant),
    field('audit-action', 'Action', action),
    el('button', { type: 'submit' }, 'Apply filters'));
  replace(main, heading, el('h2', {}, 'Chain status'), chainBox, el('h2', {}, 'Events'), filters,
    el('div', { class: 'table-wrap' }, el('table', { class: 'events' },
      el('thead', {}, el('tr', {},
        ['Seq', 'When', 'Action', 'Actor', 'Subject', 'Tenant', 'Metadata'].map((h) => el('th', { scope: 'col' }, h)))),
      tableBody)),
    more, status);

  let afterSeq = null;
  const loadPage = async () => {
    more.disabled = true;
    try {
      const query = { tenant_id: tenant.value, action: action.value.trim(), after_seq: afterSeq, limit: PAGE_SIZE };
      const { data } = await api(apiPath(`/v1/workspaces/${workspaceId}/audit-events`, query), { signal });
      const events = Array.isArray(data.events) ? data.events : [];
      if (events.length === 0 && afterSeq === null) tableBody.append(el('tr', {}, el('td', { colspan: '7' }, 'No events.')));
      for (const event of events) tableBody.append(eventRow(event));
      afterSeq = data.next_after_seq ?? null;
      more.hidden = afterSeq === null;
      replace(status);
    } catch (error) {
      if (signal.aborted) return;
      replace(status, notice('error', describeError(error)));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => loadPage());
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    afterSeq = null;
    replace(tableBody);
    loadPage();
  });

  const verify = (async () => {
    try {
      const { data } = await api(`/v1/workspaces/${workspaceId}/audit-events/verify`, { signal });
      replace(chainBox, chainStatus(data));
    } catch (error) {
      if (signal.aborted) return;
      replace(chainBox, notice('error', `The chain could not be verified: ${describeError(error)}`));
    }
  })();
  await Promise.all([verify, loadPage()]);
}
