//! The path and query parameters as the OpenAPI document declares them. The rules written here
//! (minimums, maximums, patterns, enums) are the server's own: the handlers parse with the same
//! domain types, and the schemathesis run in `cargo xtask ci` holds both to each other.

use utoipa::IntoParams;

/// `{ws}`: a workspace, a positive 64-bit integer.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct WorkspaceParams {
    /// The workspace.
    #[param(minimum = 1)]
    ws: i64,
}

/// `{ws}/tenants/{t}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct TenantParams {
    /// The workspace.
    #[param(minimum = 1)]
    ws: i64,
    /// The tenant.
    #[param(minimum = 1)]
    t: i64,
}

/// `…/provider-connections/{id}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct ConnectionParams {
    /// The workspace.
    #[param(minimum = 1)]
    ws: i64,
    /// The tenant.
    #[param(minimum = 1)]
    t: i64,
    /// The provider connection (a UUID in canonical lowercase form).
    #[param(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    id: String,
}

/// `/v1/workspaces/{ws}/webhooks/{id}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct WebhookParams {
    /// The workspace.
    #[param(minimum = 1)]
    ws: i64,
    /// The webhook subscription (a UUID in canonical lowercase form).
    #[param(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    id: String,
}

/// The page of `GET …/webhooks/{id}/deliveries`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct DeliveryListParams {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `/v1/runs/{id}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct RunParams {
    /// The run (a UUID in canonical lowercase form).
    #[param(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    id: String,
}

/// The export format of `GET /v1/runs/{id}/report`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct ReportParams {
    /// `json` (the stored report, the default), `sarif` (SARIF 2.1.0) or `junit` (JUnit XML);
    /// wins over `Accept` (`application/json`, `application/sarif+json`, `application/xml`).
    #[param(inline, value_type = Option<String>, pattern = "^(json|sarif|junit)$")]
    format: Option<String>,
}

/// The filters of `GET /v1/workspaces/{ws}/verification-status`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct FleetParams {
    /// Only this tenant (it must be one the caller is entitled to).
    #[param(minimum = 1)]
    tenant_id: Option<i64>,
    /// Only connections whose newest run has this overall (`running`: queued or running).
    #[param(inline, value_type = Option<String>, pattern = "^(ready|needs_attention|blocked|running)$")]
    overall: Option<String>,
    /// Only credentials expiring within this many days (expired ones included).
    #[param(minimum = 0, maximum = 3650)]
    expiring_within_days: Option<u32>,
    /// Only connections with no completed verification in this many hours.
    #[param(minimum = 1, maximum = 87600)]
    stale_after_hours: Option<u32>,
    /// Page size, 1 to 100 (default 50); with `format=csv`, every matching row is returned.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (treat it as opaque).
    #[param(pattern = "^[0-9]{1,19}-[0-9a-f]{32}$")]
    cursor: Option<String>,
    /// `json` (default) or `csv`.
    #[param(inline, value_type = Option<String>, pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// The filters of `GET …/runs`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct RunListParams {
    /// Only this flow.
    #[param(pattern = r"^[a-z0-9][a-z0-9_.-]{0,127}$")]
    flow: Option<String>,
    /// Only runs in this status.
    #[param(inline, value_type = Option<String>, pattern = "^(queued|running|completed)$")]
    status: Option<String>,
    /// Only runs of this provider connection.
    #[param(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    provider_connection_id: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (treat it as opaque).
    #[param(pattern = "^[0-9]{16}-[0-9a-f]{32}$")]
    cursor: Option<String>,
}

/// The identity of `GET …/verifications/latest`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct LatestParams {
    /// The flow.
    #[param(pattern = r"^[a-z0-9][a-z0-9_.-]{0,127}$")]
    flow: String,
    /// The provider connection; absent means none.
    #[param(pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    provider_connection_id: Option<String>,
}

/// The filters of `GET …/audit-events`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct AuditParams {
    /// Only events of this tenant.
    #[param(minimum = 1)]
    tenant_id: Option<i64>,
    /// Only this action.
    #[param(
        pattern = r"^(verification\.started|verification\.completed|verification\.check_acknowledged|provider_connection\.created|provider_connection\.secret_rotated|provider_connection\.disabled|schedule\.set|schedule\.removed|webhook\.created|webhook\.deleted|webhook\.secret_rotated)$"
    )]
    action: Option<String>,
    /// Only events after this `seq` (`next_after_seq` of the previous page).
    #[param(minimum = 0)]
    after_seq: Option<i64>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}
