//! The workspace's audit trail and its verification.

use axum::Json;
use axum::extract::{RawQuery, State};
use verdict_core::domain::{AuditAction, AuditEvent, TenantId};
use verdict_core::services::ReadAuditEvents;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{AuditPageDto, ChainVerificationDto};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{QueryParams, WorkspacePath, page_limit};
use crate::params::{AuditParams, WorkspaceParams};

/// The audit events the caller may see, by `seq`, exactly as hashed: a tenant's events need
/// entitlement to that tenant, workspace-level events `audit.read` alone.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit-events", tag = "audit", operation_id = "list_audit_events",
    params(WorkspaceParams, AuditParams),
    responses((status = 200, body = AuditPageDto), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Caller(principal): Caller,
    WorkspacePath(workspace): WorkspacePath,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPageDto>, ApiError> {
    state.audit.authorize_read(&principal, workspace)?;
    let q = QueryParams::parse(query.as_deref(), &["tenant_id", "action", "after_seq", "limit"])?;
    let limit = q.optional("limit", page_limit)?.unwrap_or_default();
    let request = ReadAuditEvents {
        workspace,
        tenant: q.optional("tenant_id", str::parse::<TenantId>)?,
        action: q.optional("action", AuditAction::parse)?,
        after_seq: q.optional("after_seq", after_seq)?,
        limit,
    };
    let events = state.audit.events(&principal, request).await?;
    let full = events.len() == limit.get() as usize;
    Ok(Json(AuditPageDto { next_after_seq: if full { events.last().map(AuditEvent::seq) } else { None }, events }))
}

/// `after_seq`: a `seq` the store can hold (0 to `i64::MAX`).
fn after_seq(text: &str) -> Result<u64, String> {
    text.parse::<i64>()
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| "must be an integer from 0 to 9223372036854775807".to_owned())
}

/// Recomputes the workspace's chain, compares it with the stored chain head, and names the first
/// broken `seq`.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit-events/verify", tag = "audit",
    operation_id = "verify_audit_chain", params(WorkspaceParams),
    responses((status = 200, body = ChainVerificationDto), (status = "4XX", body = ErrorBody),
        (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    Caller(principal): Caller,
    WorkspacePath(workspace): WorkspacePath,
) -> Result<Json<ChainVerificationDto>, ApiError> {
    let result = state.audit.verify(&principal, workspace).await?;
    Ok(Json(ChainVerificationDto {
        valid: result.valid,
        events_checked: result.events_checked,
        first_broken_seq: result.first_broken_seq,
    }))
}
