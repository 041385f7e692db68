//! The workspace's audit trail and its verification.

use axum::Json;
use axum::extract::{RawQuery, State};
use verdict_core::domain::{AuditAction, PageLimit, TenantId};
use verdict_core::services::ReadAuditEvents;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{AuditPageDto, ChainVerificationDto};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{QueryParams, WorkspacePath};

/// Audit events by `seq`, exactly as hashed.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit-events", tag = "audit",
    params(
        ("tenant_id" = Option<i64>, Query), ("action" = Option<String>, Query),
        ("after_seq" = Option<u64>, Query), ("limit" = Option<u32>, Query, description = "1..=100, default 50")),
    responses((status = 200, body = AuditPageDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Caller(principal): Caller,
    WorkspacePath(workspace): WorkspacePath,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPageDto>, ApiError> {
    let q = QueryParams::parse(query.as_deref(), &["tenant_id", "action", "after_seq", "limit"])?;
    let limit = q
        .optional("limit", |s| {
            s.parse::<u32>().map_err(|e| e.to_string()).and_then(|n| PageLimit::new(n).map_err(|e| e.to_string()))
        })?
        .unwrap_or_default();
    let request = ReadAuditEvents {
        workspace,
        tenant: q.optional("tenant_id", str::parse::<TenantId>)?,
        action: q.optional("action", AuditAction::parse)?,
        after_seq: q.optional("after_seq", str::parse::<u64>)?,
        limit,
    };
    let events = state.audit.events(&principal, request).await?;
    let full = events.len() == limit.get() as usize;
    Ok(Json(AuditPageDto {
        next_after_seq: if full { events.last().map(verdict_core::domain::AuditEvent::seq) } else { None },
        events: events.iter().map(verdict_core::domain::AuditEvent::to_json).collect(),
    }))
}

/// Recomputes the workspace's chain and names the first broken `seq`.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit-events/verify", tag = "audit",
    responses((status = 200, body = ChainVerificationDto), (status = "4XX", body = ErrorBody)), security(("bearer" = [])))]
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
