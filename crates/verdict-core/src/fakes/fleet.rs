//! The in-memory [`FleetStatusStore`]: the same rows the SQL stores compute, by scanning.

use async_trait::async_trait;

use super::{InMemoryStore, State};
use crate::domain::{FleetQuery, FleetRow, FleetRun, FleetSchedule, Overall, ProviderConnection, Run, RunStatus};
use crate::ports::{FleetStatusStore, StoreError};

fn runs_of<'a>(state: &'a State, connection: &'a ProviderConnection) -> impl Iterator<Item = &'a Run> {
    state.runs.values().filter(|r| {
        r.identity.provider_connection_id == Some(connection.id)
            && r.identity.workspace_id == connection.workspace_id
            && r.identity.tenant_id == connection.tenant_id
    })
}

/// The connection's newest run, by `(created_at, id)`.
fn latest_run<'a>(state: &'a State, connection: &'a ProviderConnection) -> Option<&'a Run> {
    runs_of(state, connection).max_by_key(|r| (r.created_at, r.id))
}

/// The connection's most recent completed run.
fn last_completed<'a>(state: &'a State, connection: &'a ProviderConnection) -> Option<&'a Run> {
    runs_of(state, connection).filter(|r| r.completed_at.is_some()).max_by_key(|r| r.completed_at)
}

fn row(state: &State, connection: &ProviderConnection) -> FleetRow {
    let latest = latest_run(state, connection);
    let facts = latest.and_then(|r| state.completions.get(&r.id));
    let completed_facts = last_completed(state, connection).and_then(|r| state.completions.get(&r.id));
    FleetRow {
        tenant_id: connection.tenant_id,
        provider_connection_id: connection.id,
        connection_display_name: connection.display_name.clone(),
        latest: latest.map(|run| FleetRun {
            run_id: run.id,
            flow: run.identity.flow.clone(),
            status: run.status,
            overall: match (run.status, &run.report) {
                (RunStatus::Completed, Some(report)) => report.summary().overall,
                _ => Overall::Running,
            },
            outcome: run.outcome,
            completed_at: run.completed_at,
            change_state: facts.map(|(state, _)| *state),
        }),
        credential_expires_at: connection.client_secret_expires_at.or_else(|| completed_facts.and_then(|(_, at)| *at)),
        schedule: state
            .schedules
            .get(&connection.id)
            .map(|s| FleetSchedule { interval: s.schedule().interval.clone(), next_run_at: s.schedule().next_run_at }),
    }
}

fn admitted(query: &FleetQuery, row: &FleetRow, last_completed: Option<chrono::DateTime<chrono::Utc>>) -> bool {
    let latest = row.latest.as_ref();
    query.tenant_id.is_none_or(|t| t == row.tenant_id)
        && query
            .after
            .is_none_or(|a| (row.tenant_id, row.provider_connection_id) > (a.tenant_id, a.provider_connection_id))
        && query.overall.is_none_or(|o| latest.is_some_and(|r| r.overall == o))
        && query.expiring_before.is_none_or(|cutoff| row.credential_expires_at.is_some_and(|at| at <= cutoff))
        && query.stale_before.is_none_or(|cutoff| last_completed.is_none_or(|at| at < cutoff))
}

#[async_trait]
impl FleetStatusStore for InMemoryStore {
    async fn fleet_status(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<FleetRow> = state
            .connections
            .values()
            .filter(|c| c.workspace_id == query.workspace_id && query.visible.covers(c.tenant_id))
            .filter_map(|c| {
                let row = row(&state, c);
                admitted(query, &row, last_completed(&state, c).and_then(|r| r.completed_at)).then_some(row)
            })
            .collect();
        rows.sort_by_key(|r| (r.tenant_id, r.provider_connection_id));
        rows.truncate(query.fetch_limit as usize);
        Ok(rows)
    }
}
