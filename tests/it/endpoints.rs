//! One helper per endpoint of the API (zero2prod's style), so tests read as the API: each takes
//! the caller's token and returns the [`Reply`]. Paths are in the tests' workspace 1.

use reqwest::Method;
use serde_json::Value;

use crate::support::{Reply, TestApp};

impl TestApp {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.request(method, path, Some(token), body).await
    }

    /// `POST …/tenants/{t}/provider-connections`.
    pub async fn post_connection(&self, tenant: i64, body: Value, token: &str) -> Reply {
        self.call(Method::POST, &format!("/v1/workspaces/1/tenants/{tenant}/provider-connections"), token, Some(body))
            .await
    }

    /// `GET …/tenants/{t}/provider-connections`.
    pub async fn list_connections(&self, tenant: i64, token: &str) -> Reply {
        self.call(Method::GET, &format!("/v1/workspaces/1/tenants/{tenant}/provider-connections"), token, None).await
    }

    /// `GET …/provider-connections/{id}`.
    pub async fn get_connection(&self, tenant: i64, id: &str, token: &str) -> Reply {
        self.call(Method::GET, &format!("/v1/workspaces/1/tenants/{tenant}/provider-connections/{id}"), token, None)
            .await
    }

    /// `PUT …/provider-connections/{id}/secret`.
    pub async fn put_secret(&self, tenant: i64, id: &str, body: Value, token: &str) -> Reply {
        let path = format!("/v1/workspaces/1/tenants/{tenant}/provider-connections/{id}/secret");
        self.call(Method::PUT, &path, token, Some(body)).await
    }

    /// `POST …/provider-connections/{id}/disable`.
    pub async fn disable_connection(&self, tenant: i64, id: &str, token: &str) -> Reply {
        let path = format!("/v1/workspaces/1/tenants/{tenant}/provider-connections/{id}/disable");
        self.call(Method::POST, &path, token, None).await
    }

    /// `PUT …/provider-connections/{id}/schedule`.
    pub async fn put_schedule(&self, tenant: i64, id: &str, body: Value, token: &str) -> Reply {
        let path = format!("/v1/workspaces/1/tenants/{tenant}/provider-connections/{id}/schedule");
        self.call(Method::PUT, &path, token, Some(body)).await
    }

    /// `GET …/provider-connections/{id}/schedule`.
    pub async fn get_schedule(&self, tenant: i64, id: &str, token: &str) -> Reply {
        let path = format!("/v1/workspaces/1/tenants/{tenant}/provider-connections/{id}/schedule");
        self.call(Method::GET, &path, token, None).await
    }

    /// `DELETE …/provider-connections/{id}/schedule`.
    pub async fn delete_schedule(&self, tenant: i64, id: &str, token: &str) -> Reply {
        let path = format!("/v1/workspaces/1/tenants/{tenant}/provider-connections/{id}/schedule");
        self.call(Method::DELETE, &path, token, None).await
    }

    /// `POST …/tenants/{t}/verifications`.
    pub async fn post_verification(&self, tenant: i64, body: Value, token: &str) -> Reply {
        self.call(Method::POST, &format!("/v1/workspaces/1/tenants/{tenant}/verifications"), token, Some(body)).await
    }

    /// `GET …/tenants/{t}/verifications/latest{query}`.
    pub async fn latest_verification(&self, tenant: i64, query: &str, token: &str) -> Reply {
        let path = format!("/v1/workspaces/1/tenants/{tenant}/verifications/latest{query}");
        self.call(Method::GET, &path, token, None).await
    }

    /// `GET …/tenants/{t}/runs{query}`.
    pub async fn list_runs(&self, tenant: i64, query: &str, token: &str) -> Reply {
        self.call(Method::GET, &format!("/v1/workspaces/1/tenants/{tenant}/runs{query}"), token, None).await
    }

    /// `GET /v1/runs/{id}`.
    pub async fn get_run(&self, run: &str, token: &str) -> Reply {
        self.call(Method::GET, &format!("/v1/runs/{run}"), token, None).await
    }

    /// `POST /v1/runs/{id}/acknowledgements`.
    pub async fn post_acknowledgement(&self, run: &str, body: Value, token: &str) -> Reply {
        self.call(Method::POST, &format!("/v1/runs/{run}/acknowledgements"), token, Some(body)).await
    }

    /// `GET /v1/runs/{id}/acknowledgements`.
    pub async fn list_acknowledgements(&self, run: &str, token: &str) -> Reply {
        self.call(Method::GET, &format!("/v1/runs/{run}/acknowledgements"), token, None).await
    }

    /// `GET /v1/workspaces/1/audit-events{query}`.
    pub async fn audit_events(&self, query: &str, token: &str) -> Reply {
        self.call(Method::GET, &format!("/v1/workspaces/1/audit-events{query}"), token, None).await
    }

    /// `GET /v1/workspaces/1/audit-events/verify`.
    pub async fn verify_audit(&self, token: &str) -> Reply {
        self.call(Method::GET, "/v1/workspaces/1/audit-events/verify", token, None).await
    }

    /// `POST /v1/workspaces/1/webhooks`.
    pub async fn post_webhook(&self, body: Value, token: &str) -> Reply {
        self.call(Method::POST, "/v1/workspaces/1/webhooks", token, Some(body)).await
    }

    /// `GET /v1/workspaces/1/webhooks/{id}/deliveries{query}`.
    pub async fn webhook_deliveries(&self, id: &str, query: &str, token: &str) -> Reply {
        self.call(Method::GET, &format!("/v1/workspaces/1/webhooks/{id}/deliveries{query}"), token, None).await
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Reply {
        self.request(Method::GET, "/healthz", None, None).await
    }

    /// `GET /readyz`.
    pub async fn readyz(&self) -> Reply {
        self.request(Method::GET, "/readyz", None, None).await
    }

    /// `GET /metrics` (Prometheus text).
    pub async fn metrics(&self) -> Reply {
        self.request(Method::GET, "/metrics", None, None).await
    }

    /// `GET /v1/openapi.json`.
    pub async fn openapi(&self) -> Reply {
        self.request(Method::GET, "/v1/openapi.json", None, None).await
    }
}
