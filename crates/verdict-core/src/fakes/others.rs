//! The in-memory acknowledgement, provider-connection and audit stores.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{InMemoryStore, State};
use crate::domain::{
    Acknowledgement, AuditEvent, ChainHeadRecord, NewAcknowledgement, PendingAuditEvent, ProviderConnection,
    ProviderConnectionId, RunId, TenantId, WorkspaceId,
};
use crate::ports::{
    AckInsertError, AcknowledgementStore, AuditLog, AuditQuery, ChainHead, ConnectionUpdateError, NewSecret,
    ProviderConnectionStore, StoreError,
};

#[async_trait]
impl AcknowledgementStore for InMemoryStore {
    async fn acknowledge(
        &self,
        ack: NewAcknowledgement,
        event: PendingAuditEvent,
    ) -> Result<Acknowledgement, AckInsertError> {
        let mut state = self.lock();
        // The acknowledgement must name its run's own scope, as a database foreign key on
        // (run, workspace, tenant) would enforce.
        let in_scope = state
            .runs
            .get(&ack.run_id)
            .is_some_and(|r| r.identity.workspace_id == ack.workspace_id && r.identity.tenant_id == ack.tenant_id);
        if !in_scope {
            return Err(AckInsertError::RunNotFound);
        }
        if let Some(existing) =
            state.acknowledgements.iter().find(|a| a.run_id == ack.run_id && a.check_key == ack.check_key)
        {
            return Err(AckInsertError::AlreadyAcknowledged(Box::new(existing.clone())));
        }
        let mut row = Acknowledgement::from_new(ack);
        row.acknowledged_at = crate::domain::to_micros(row.acknowledged_at);
        row.created_at = row.acknowledged_at;
        row.updated_at = row.acknowledged_at;
        state.acknowledgements.push(row.clone());
        state.append(event);
        Ok(row)
    }

    async fn list_for_run(&self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<Acknowledgement> =
            state.acknowledgements.iter().filter(|a| a.run_id == run).cloned().collect();
        rows.sort_by_key(|a| (a.acknowledged_at, a.id));
        Ok(rows)
    }
}

fn scoped(
    state: &mut State,
    workspace: WorkspaceId,
    tenant: TenantId,
    id: ProviderConnectionId,
) -> Result<&mut ProviderConnection, ConnectionUpdateError> {
    state
        .connections
        .get_mut(&id)
        .filter(|c| c.workspace_id == workspace && c.tenant_id == tenant)
        .ok_or(ConnectionUpdateError::NotFound)
}

#[async_trait]
impl ProviderConnectionStore for InMemoryStore {
    async fn create(
        &self,
        connection: ProviderConnection,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, StoreError> {
        let mut state = self.lock();
        state.connections.insert(connection.id, connection.clone());
        state.append(event);
        Ok(connection)
    }

    async fn get(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<Option<ProviderConnection>, StoreError> {
        let state = self.lock();
        Ok(state.connections.get(&id).filter(|c| c.workspace_id == workspace && c.tenant_id == tenant).cloned())
    }

    async fn list(&self, workspace: WorkspaceId, tenant: TenantId) -> Result<Vec<ProviderConnection>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<ProviderConnection> = state
            .connections
            .values()
            .filter(|c| c.workspace_id == workspace && c.tenant_id == tenant)
            .cloned()
            .collect();
        rows.sort_by_key(|c| (c.created_at, c.id));
        Ok(rows)
    }

    async fn rotate_secret(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        secret: NewSecret,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError> {
        let mut state = self.lock();
        let connection = scoped(&mut state, workspace, tenant, id)?;
        if connection.disabled_at.is_some() {
            return Err(ConnectionUpdateError::Disabled);
        }
        let at = crate::domain::to_micros(at);
        connection.client_secret_ciphertext = Some(secret.ciphertext);
        connection.client_secret_expires_at = secret.expires_at.map(crate::domain::to_micros);
        connection.secret_updated_at = Some(at);
        connection.updated_at = at;
        let row = connection.clone();
        state.append(event);
        Ok(row)
    }

    async fn disable(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError> {
        let mut state = self.lock();
        let connection = scoped(&mut state, workspace, tenant, id)?;
        if connection.disabled_at.is_some() {
            return Ok(connection.clone());
        }
        let at = crate::domain::to_micros(at);
        connection.disabled_at = Some(at);
        connection.updated_at = at;
        let row = connection.clone();
        state.append(event);
        Ok(row)
    }
}

#[async_trait]
impl AuditLog for InMemoryStore {
    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let state = self.lock();
        let Some(chain) = state.audit.get(&query.workspace) else { return Ok(Vec::new()) };
        Ok(chain.iter().filter(|e| query.matches(e)).take(query.limit as usize).cloned().collect())
    }

    async fn chain_head(&self, workspace: WorkspaceId) -> Result<Option<ChainHeadRecord>, StoreError> {
        Ok(self.lock().heads.get(&workspace).cloned())
    }

    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let state = self.lock();
        Ok(state.heads.iter().map(|(workspace, head)| ChainHead { workspace: *workspace, seq: head.seq }).collect())
    }
}
