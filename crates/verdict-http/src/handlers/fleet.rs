//! `GET /v1/workspaces/{ws}/verification-status`: the fleet status as JSON pages, or every
//! matching row as CSV for a spreadsheet (docs/contract.md, "Fleet status and the operator
//! view").

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use verdict_core::domain::{
    ExpiringWithinDays, FleetCursor, FleetRow, Overall, PageLimit, StaleAfterHours, TenantId, format_timestamp,
};
use verdict_core::services::ReadFleetStatus;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{QueryParams, WorkspacePath, page_limit};
use crate::params::{FleetParams, WorkspaceParams};

/// One connection of the fleet. Run fields are null when the connection was never verified;
/// `overall` is `running` while its newest run is queued or running.
#[derive(Debug, Serialize, ToSchema)]
pub struct FleetRowDto {
    /// The tenant.
    pub tenant_id: i64,
    /// The provider connection.
    #[schema(format = Uuid)]
    pub provider_connection_id: String,
    /// Its display name.
    pub connection_display_name: String,
    /// The flow of the newest run.
    pub flow: Option<String>,
    /// The newest run.
    #[schema(format = Uuid)]
    pub run_id: Option<String>,
    /// `queued`, `running` or `completed`.
    pub status: Option<String>,
    /// `ready`, `needs_attention`, `blocked` or `running`.
    pub overall: Option<String>,
    /// `pending`, `succeeded`, `failed` or `blocked`.
    pub outcome: Option<String>,
    /// When the newest run completed.
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    /// `none` (first report), `unchanged` or `changed`; null while running, or when unknown.
    pub change_state: Option<String>,
    /// The connection's `client_secret_expires_at`, else the expiry the newest report found.
    #[schema(format = DateTime)]
    pub credential_expires_at: Option<String>,
    /// The schedule's ISO 8601 interval.
    pub schedule_interval: Option<String>,
    /// When the schedule fires next.
    #[schema(format = DateTime)]
    pub next_run_at: Option<String>,
}

impl From<&FleetRow> for FleetRowDto {
    fn from(row: &FleetRow) -> Self {
        let latest = row.latest.as_ref();
        Self {
            tenant_id: row.tenant_id.get(),
            provider_connection_id: row.provider_connection_id.to_string(),
            connection_display_name: row.connection_display_name.as_str().to_owned(),
            flow: latest.map(|r| r.flow.as_str().to_owned()),
            run_id: latest.map(|r| r.run_id.to_string()),
            status: latest.map(|r| r.status.as_str().to_owned()),
            overall: latest.map(|r| r.overall.as_str().to_owned()),
            outcome: latest.map(|r| r.outcome.as_str().to_owned()),
            completed_at: latest.and_then(|r| r.completed_at).map(format_timestamp),
            change_state: latest.and_then(|r| r.change_state).map(|c| c.as_str().to_owned()),
            credential_expires_at: row.credential_expires_at.map(format_timestamp),
            schedule_interval: row.schedule.as_ref().map(|s| s.interval.as_str().to_owned()),
            next_run_at: row.schedule.as_ref().map(|s| format_timestamp(s.next_run_at)),
        }
    }
}

/// A page of the fleet status.
#[derive(Debug, Serialize, ToSchema)]
pub struct FleetPageDto {
    /// The rows, by tenant then connection.
    pub rows: Vec<FleetRowDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The fleet status: the newest verification of every connection the caller may see.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/verification-status", tag = "fleet",
    operation_id = "fleet_status", params(WorkspaceParams, FleetParams),
    responses(
        (status = 200, description = "a page as JSON, or with `format=csv` every matching row from `cursor` on as \\
            RFC 4180 CSV (cells starting with `=`, `+`, `-` or `@` are prefixed with `'`)",
            content((FleetPageDto = "application/json"), (String = "text/csv"))),
        (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    Caller(principal): Caller,
    WorkspacePath(workspace): WorkspacePath,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    state.fleet.authorize(&principal, workspace)?;
    let q = QueryParams::parse(
        query.as_deref(),
        &["tenant_id", "overall", "expiring_within_days", "stale_after_hours", "limit", "cursor", "format"],
    )?;
    let csv = match q.raw("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "must be json or csv")),
    };
    let mut request = ReadFleetStatus {
        workspace_id: workspace,
        tenant_id: q.optional("tenant_id", str::parse::<TenantId>)?,
        overall: q.optional("overall", Overall::parse)?,
        expiring_within_days: q.optional("expiring_within_days", ExpiringWithinDays::parse)?,
        stale_after_hours: q.optional("stale_after_hours", StaleAfterHours::parse)?,
        cursor: q.optional("cursor", FleetCursor::decode)?,
        limit: q.optional("limit", page_limit)?.unwrap_or_default(),
    };
    if !csv {
        let page = state.fleet.status(&principal, request).await?;
        let body = FleetPageDto {
            rows: page.rows.iter().map(FleetRowDto::from).collect(),
            next_cursor: page.next.map(|c| c.encode()),
        };
        return Ok(Json(body).into_response());
    }
    // Every matching row, a full page at a time: a spreadsheet wants the whole fleet.
    request.limit = PageLimit::new(PageLimit::MAX).map_err(|e| ApiError::Internal(e.into()))?;
    let mut writer = csv_writer();
    loop {
        let page = state.fleet.status(&principal, request.clone()).await?;
        for row in &page.rows {
            write_row(&mut writer, &FleetRowDto::from(row))?;
        }
        match page.next {
            Some(next) => request.cursor = Some(next),
            None => break,
        }
    }
    let body = writer.into_inner().map_err(|e| ApiError::Internal(anyhow::anyhow!("CSV buffer: {e}")))?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"verdict-fleet.csv\"")),
    ];
    Ok((headers, body).into_response())
}

/// The CSV columns, in the order of the JSON row.
pub const CSV_COLUMNS: [&str; 13] = [
    "tenant_id",
    "provider_connection_id",
    "connection_display_name",
    "flow",
    "run_id",
    "status",
    "overall",
    "outcome",
    "completed_at",
    "change_state",
    "credential_expires_at",
    "schedule_interval",
    "next_run_at",
];

fn csv_writer() -> csv::Writer<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(CSV_COLUMNS);
    writer
}

fn write_row(writer: &mut csv::Writer<Vec<u8>>, row: &FleetRowDto) -> Result<(), ApiError> {
    let text = |v: &Option<String>| v.as_deref().map(spreadsheet_safe).unwrap_or_default();
    let record = [
        row.tenant_id.to_string(),
        spreadsheet_safe(&row.provider_connection_id),
        spreadsheet_safe(&row.connection_display_name),
        text(&row.flow),
        text(&row.run_id),
        text(&row.status),
        text(&row.overall),
        text(&row.outcome),
        text(&row.completed_at),
        text(&row.change_state),
        text(&row.credential_expires_at),
        text(&row.schedule_interval),
        text(&row.next_run_at),
    ];
    writer.write_record(&record).map_err(|e| ApiError::Internal(e.into()))
}

/// A cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-` or `@`
/// gets a leading `'` (OWASP's CSV-injection advice). Numbers are written by the caller.
#[must_use]
pub fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_prefixes_are_neutralized_and_other_text_kept() {
        for (input, expected) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("Contoso", "Contoso"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(input), expected);
        }
    }
}
