//! The simulated directory reads: the app registration (`applications(appId='…')`, with its
//! password credentials and requested permissions), Graph's service principal
//! (`servicePrincipals(appId='…')`, with the application roles that name permission ids) and the
//! tenant's subscriptions (`subscribedSkus`). Each needs the application permission real Graph
//! needs, so a token without it is refused as Graph would.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use verdict_core::flows::{APPLICATION_READ_PERMISSION, LICENSE_READ_PERMISSION, MICROSOFT_GRAPH_APP_ID};

use super::Shared;
use super::routes::{
    Dialect, Tenant, arrive, bearer_roles, forbidden, graph_error, invalid_token, unless_normal, with_ids,
};

/// Roles that let an app read registrations and service principals.
const READ_APPLICATIONS: &[&str] = &[APPLICATION_READ_PERMISSION, "Application.ReadWrite.All", "Directory.Read.All"];
/// Roles that let an app read the tenant's subscriptions.
const READ_SUBSCRIPTIONS: &[&str] =
    &[LICENSE_READ_PERMISSION, "Organization.ReadWrite.All", "Directory.Read.All", "LicenseAssignment.Read.All"];

/// Answers with `body` when the bearer holds one of `needed`, as Graph would otherwise.
fn authorized(shared: &Shared, headers: &HeaderMap, needed: &[&str], body: impl FnOnce() -> Response) -> Response {
    match bearer_roles(shared, headers) {
        None => invalid_token(),
        Some(roles) if roles.iter().any(|role| needed.contains(&role.as_str())) => body(),
        Some(_) => forbidden(),
    }
}

/// `GET /v1.0/applications(appId='…')` and `GET /v1.0/servicePrincipals(appId='…')`.
pub(super) async fn by_app_id(State(shared): Tenant, Path(resource): Path<String>, headers: HeaderMap) -> Response {
    let app_id = |prefix: &str| {
        resource.strip_prefix(prefix).and_then(|rest| rest.strip_prefix("(appId='")).and_then(|r| r.strip_suffix("')"))
    };
    let response = if let Some(app_id) = app_id("applications") {
        let reply = arrive(&shared, "applications", |b| &mut b.application).await;
        unless_normal(&shared, reply, Dialect::Graph).unwrap_or_else(|| {
            authorized(&shared, &headers, READ_APPLICATIONS, || {
                if app_id.eq_ignore_ascii_case(&shared.tenant.client_id) {
                    axum::Json(application(&shared)).into_response()
                } else {
                    graph_error(404, "Request_ResourceNotFound", "Resource does not exist.")
                }
            })
        })
    } else if app_id("servicePrincipals").is_some_and(|id| id == MICROSOFT_GRAPH_APP_ID) {
        let reply = arrive(&shared, "service_principals", |b| &mut b.service_principal).await;
        unless_normal(&shared, reply, Dialect::Graph).unwrap_or_else(|| {
            authorized(&shared, &headers, READ_APPLICATIONS, || {
                axum::Json(graph_service_principal(&shared)).into_response()
            })
        })
    } else {
        shared.count("not_found");
        graph_error(404, "Request_ResourceNotFound", "Resource does not exist.")
    };
    with_ids(&shared, response, "request-id", &headers)
}

/// The app registration: an older secret with another hint, the secret the tenant accepts
/// (hint = its first three characters, as Entra stores it), and the requested permissions —
/// Graph application permissions by id, one delegated scope and one other API, which the flow
/// must ignore.
fn application(shared: &Shared) -> Value {
    let behaviour = shared.behaviour();
    let hint: String = shared.tenant.client_secret.chars().take(3).collect();
    let id_of = |name: &str| shared.app_roles.iter().find(|(_, n)| n == name).map(|(id, _)| id.clone());
    let mut graph_access: Vec<Value> = behaviour
        .requested_permissions
        .iter()
        .filter_map(|name| id_of(name))
        .map(|id| json!({"id": id, "type": "Role"}))
        .collect();
    graph_access.push(json!({"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}));
    json!({
        "id": uuid::Uuid::now_v7().to_string(),
        "appId": shared.tenant.client_id,
        "passwordCredentials": [
            {"customKeyIdentifier": null, "displayName": "old", "hint": "Old",
             "endDateTime": (chrono::Utc::now() - chrono::Duration::days(400)).to_rfc3339(),
             "keyId": uuid::Uuid::now_v7().to_string(), "secretText": null},
            {"customKeyIdentifier": null, "displayName": "verdict", "hint": hint,
             "endDateTime": behaviour.secret_expires_at.to_rfc3339(),
             "keyId": uuid::Uuid::now_v7().to_string(), "secretText": null}
        ],
        "requiredResourceAccess": [
            {"resourceAppId": MICROSOFT_GRAPH_APP_ID, "resourceAccess": graph_access},
            {"resourceAppId": "00000002-0000-0ff1-ce00-000000000000",
             "resourceAccess": [{"id": "dc890d15-9560-4a4c-9b7f-a736ec74ec40", "type": "Role"}]}
        ]
    })
}

/// Graph's service principal: its application roles, id and name.
fn graph_service_principal(shared: &Shared) -> Value {
    let roles: Vec<Value> = shared
        .app_roles
        .iter()
        .map(|(id, name)| {
            json!({"id": id, "value": name, "allowedMemberTypes": ["Application"], "isEnabled": true,
                   "displayName": format!("Simulated {name}")})
        })
        .collect();
    json!({"appRoles": roles})
}

/// `GET /v1.0/subscribedSkus`.
pub(super) async fn subscribed_skus(State(shared): Tenant, headers: HeaderMap) -> Response {
    let reply = arrive(&shared, "subscribed_skus", |b| &mut b.subscribed_skus).await;
    let response = unless_normal(&shared, reply, Dialect::Graph).unwrap_or_else(|| {
        authorized(&shared, &headers, READ_SUBSCRIPTIONS, || {
            let skus: Vec<Value> = shared
                .behaviour()
                .skus
                .iter()
                .map(|sku| {
                    let plans: Vec<Value> = sku
                        .service_plans
                        .iter()
                        .map(|(name, status)| {
                            json!({"servicePlanId": uuid::Uuid::now_v7().to_string(), "servicePlanName": name,
                                   "provisioningStatus": status, "appliesTo": "User"})
                        })
                        .collect();
                    json!({"skuId": uuid::Uuid::now_v7().to_string(), "skuPartNumber": sku.sku_part_number,
                           "capabilityStatus": sku.capability_status, "consumedUnits": 3,
                           "servicePlans": plans})
                })
                .collect();
            axum::Json(json!({"value": skus})).into_response()
        })
    });
    with_ids(&shared, response, "request-id", &headers)
}
