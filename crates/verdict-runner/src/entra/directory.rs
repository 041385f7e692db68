//! The directory reads of docs/contract.md#provider-flow and the little Verdict takes from each: the app registration
//! (its password credentials' hints and end dates, the Graph application permissions it
//! requests), Graph's own application roles (permission id → name, so no GUID table is kept
//! here), and the tenant's subscriptions (which service plans are active). Nothing read here is
//! printed: the types' `Debug` shows counts only.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::time::Instant;
use verdict_core::domain::{ClientId, ClientSecret};
use verdict_core::flows::MICROSOFT_GRAPH_APP_ID;

use super::graph::GraphResponse;
use super::{AccessToken, EntraClient, ProviderError};

/// An app registration as Verdict needs it.
#[derive(Clone, Deserialize)]
#[serde(from = "ApplicationBody")]
pub struct Application {
    credentials: Vec<(Option<String>, Option<DateTime<Utc>>)>,
    /// Ids of the Graph application permissions (`type: Role`) it requests.
    requested_graph_roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationBody {
    password_credentials: Vec<PasswordCredentialBody>,
    required_resource_access: Vec<RequiredResourceAccessBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasswordCredentialBody {
    hint: Option<String>,
    end_date_time: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequiredResourceAccessBody {
    resource_app_id: String,
    #[serde(default)]
    resource_access: Vec<ResourceAccessBody>,
}

#[derive(Deserialize)]
struct ResourceAccessBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

impl From<ApplicationBody> for Application {
    fn from(body: ApplicationBody) -> Self {
        let requested_graph_roles = body
            .required_resource_access
            .into_iter()
            .filter(|resource| resource.resource_app_id.eq_ignore_ascii_case(MICROSOFT_GRAPH_APP_ID))
            .flat_map(|resource| resource.resource_access)
            .filter(|access| access.kind == "Role")
            .map(|access| access.id.to_ascii_lowercase())
            .collect();
        let credentials = body.password_credentials.into_iter().map(|c| (c.hint, c.end_date_time)).collect();
        Self { credentials, requested_graph_roles }
    }
}

impl Application {
    /// When the secret in use expires: the `endDateTime` of the password credential whose
    /// `hint` is the secret's first three characters. Should two credentials share the hint, the
    /// earlier date is the one that can break the connection first, so it is the one reported.
    #[must_use]
    pub fn secret_expiry(&self, secret: &ClientSecret) -> Option<DateTime<Utc>> {
        let hint: String = secret.expose().chars().take(3).collect();
        self.credentials.iter().filter(|(h, _)| h.as_deref() == Some(hint.as_str())).filter_map(|(_, end)| *end).min()
    }

    /// Whether the registration requests any of `names` as a Graph application permission.
    #[must_use]
    pub fn requests_graph_role(&self, roles: &GraphAppRoles, names: &[&str]) -> bool {
        self.requested_graph_roles
            .iter()
            .filter_map(|id| roles.name_of(id))
            .any(|name| names.iter().any(|wanted| wanted.eq_ignore_ascii_case(name)))
    }

    /// How many Graph application permissions it requests.
    #[must_use]
    pub fn requested_graph_role_count(&self) -> usize {
        self.requested_graph_roles.len()
    }
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credential hints are three characters of a secret: never printed.
        f.debug_struct("Application")
            .field("password_credentials", &self.credentials.len())
            .field("requested_graph_roles", &self.requested_graph_roles.len())
            .finish()
    }
}

/// Microsoft Graph's application roles: permission id → permission name.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "ServicePrincipalBody")]
pub struct GraphAppRoles(HashMap<String, String>);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServicePrincipalBody {
    app_roles: Vec<AppRoleBody>,
}

#[derive(Deserialize)]
struct AppRoleBody {
    id: String,
    value: Option<String>,
}

impl From<ServicePrincipalBody> for GraphAppRoles {
    fn from(body: ServicePrincipalBody) -> Self {
        Self(body.app_roles.into_iter().filter_map(|r| Some((r.id.to_ascii_lowercase(), r.value?))).collect())
    }
}

impl GraphAppRoles {
    /// The name of the permission with this id.
    #[must_use]
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.0.get(&id.to_ascii_lowercase()).map(String::as_str)
    }
}

/// The tenant's subscriptions (`subscribedSkus`), reduced to what decides a licence.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "SkusBody")]
pub struct SubscribedSkus(Vec<Subscription>);

/// One subscription: whether it is in use (`Enabled`, or `Warning` — in its grace period), and
/// its service plans that are provisioned (`Success`).
#[derive(Debug, Clone)]
struct Subscription {
    in_use: bool,
    provisioned_plans: Vec<String>,
}

#[derive(Deserialize)]
struct SkusBody {
    value: Vec<SkuBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkuBody {
    capability_status: Option<String>,
    #[serde(default)]
    service_plans: Vec<ServicePlanBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServicePlanBody {
    service_plan_name: Option<String>,
    provisioning_status: Option<String>,
}

impl From<SkusBody> for SubscribedSkus {
    fn from(body: SkusBody) -> Self {
        let subscription = |sku: SkuBody| Subscription {
            in_use: matches!(sku.capability_status.as_deref(), Some("Enabled" | "Warning")),
            provisioned_plans: sku
                .service_plans
                .into_iter()
                .filter(|plan| plan.provisioning_status.as_deref() == Some("Success"))
                .filter_map(|plan| plan.service_plan_name)
                .collect(),
        };
        Self(body.value.into_iter().map(subscription).collect())
    }
}

impl SubscribedSkus {
    /// How many subscriptions the tenant has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the tenant has none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first of `plans` that is provisioned (`Success`) in a subscription that is in use
    /// (`Enabled`, or `Warning` — in its grace period).
    #[must_use]
    pub fn active_plan<'p>(&self, plans: &[&'p str]) -> Option<&'p str> {
        self.0
            .iter()
            .filter(|subscription| subscription.in_use)
            .flat_map(|subscription| &subscription.provisioned_plans)
            .find_map(|name| plans.iter().copied().find(|plan| name == plan))
    }
}

impl EntraClient {
    /// The connection's own app registration:
    /// `GET /v1.0/applications(appId='{client}')?$select=id,appId,passwordCredentials,requiredResourceAccess`.
    /// Needs `Application.Read.All`, and the application object must live in this tenant.
    ///
    /// # Errors
    /// As [`EntraClient::graph_get`].
    pub async fn application(
        &self,
        token: &AccessToken,
        client: &ClientId,
        deadline: Instant,
    ) -> Result<GraphResponse<Application>, ProviderError> {
        let path =
            format!("/v1.0/applications(appId='{client}')?$select=id,appId,passwordCredentials,requiredResourceAccess");
        self.graph_read(token, &path, deadline).await
    }

    /// Microsoft Graph's application roles:
    /// `GET /v1.0/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=appRoles`.
    ///
    /// # Errors
    /// As [`EntraClient::graph_get`].
    pub async fn graph_app_roles(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<GraphResponse<GraphAppRoles>, ProviderError> {
        let path = format!("/v1.0/servicePrincipals(appId='{MICROSOFT_GRAPH_APP_ID}')?$select=appRoles");
        self.graph_read(token, &path, deadline).await
    }

    /// The tenant's subscriptions: `GET /v1.0/subscribedSkus`.
    ///
    /// # Errors
    /// As [`EntraClient::graph_get`].
    pub async fn subscribed_skus(
        &self,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<GraphResponse<SubscribedSkus>, ProviderError> {
        self.graph_read(token, "/v1.0/subscribedSkus", deadline).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn secret(text: &str) -> ClientSecret {
        ClientSecret::parse(text.to_owned()).unwrap()
    }

    #[test]
    fn the_credential_in_use_is_found_by_its_hint() {
        let app: Application = serde_json::from_value(json!({
            "id": "x", "appId": "y",
            "passwordCredentials": [
                {"hint": "Old", "endDateTime": "2020-01-01T00:00:00Z", "secretText": null},
                {"hint": "Zq8", "endDateTime": "2027-03-04T05:06:07.1234567Z"},
                {"hint": "Zq8", "endDateTime": "2028-01-01T00:00:00Z"},
                {"hint": null, "endDateTime": "2019-01-01T00:00:00Z"}
            ],
            "requiredResourceAccess": []
        }))
        .unwrap();
        let expiry = app.secret_expiry(&secret("Zq8~rest-of-the-secret")).unwrap();
        assert_eq!(expiry.to_rfc3339(), "2027-03-04T05:06:07.123456700+00:00", "the earlier of two matches");
        assert_eq!(app.secret_expiry(&secret("Abc~other")), None);
        assert!(!format!("{app:?}").contains("Zq8"), "hints never print");
    }

    #[test]
    fn requested_graph_roles_are_named_through_graph_s_own_roles() {
        let roles: GraphAppRoles = serde_json::from_value(json!({"appRoles": [
            {"id": "AAAAAAAA-0000-0000-0000-000000000001", "value": "Group.Read.All"},
            {"id": "aaaaaaaa-0000-0000-0000-000000000002", "value": "DeviceManagementApps.Read.All"}
        ]}))
        .unwrap();
        let app: Application = serde_json::from_value(json!({
            "passwordCredentials": [],
            "requiredResourceAccess": [
                {"resourceAppId": MICROSOFT_GRAPH_APP_ID, "resourceAccess": [
                    {"id": "aaaaaaaa-0000-0000-0000-000000000001", "type": "Role"},
                    {"id": "aaaaaaaa-0000-0000-0000-000000000002", "type": "Scope"}
                ]},
                {"resourceAppId": "00000002-0000-0ff1-ce00-000000000000", "resourceAccess": [
                    {"id": "aaaaaaaa-0000-0000-0000-000000000002", "type": "Role"}
                ]}
            ]
        }))
        .unwrap();
        assert_eq!(app.requested_graph_role_count(), 1);
        assert!(app.requests_graph_role(&roles, &["Group.ReadWrite.All", "group.read.all"]));
        assert!(!app.requests_graph_role(&roles, &["DeviceManagementApps.Read.All"]), "delegated or other APIs");
    }

    #[test]
    fn garbage_is_not_an_application_or_a_subscription_list() {
        assert!(serde_json::from_value::<Application>(json!({"value": []})).is_err());
        assert!(serde_json::from_value::<SubscribedSkus>(json!({"skus": []})).is_err());
        assert!(serde_json::from_value::<GraphAppRoles>(json!([])).is_err());
    }

    #[test]
    fn only_provisioned_plans_of_subscriptions_in_use_count() {
        let skus = |status: &str, plan: &str, provisioning: &str| -> SubscribedSkus {
            serde_json::from_value(json!({"value": [
                {"capabilityStatus": "Enabled", "servicePlans": [
                    {"servicePlanName": "EXCHANGE_S_STANDARD", "provisioningStatus": "Success"}]},
                {"capabilityStatus": status, "servicePlans": [
                    {"servicePlanName": plan, "provisioningStatus": provisioning}]}
            ]}))
            .unwrap()
        };
        let intune = ["INTUNE_A", "INTUNE_EDU"];
        assert_eq!(skus("Enabled", "INTUNE_A", "Success").active_plan(&intune), Some("INTUNE_A"));
        assert_eq!(skus("Warning", "INTUNE_EDU", "Success").active_plan(&intune), Some("INTUNE_EDU"));
        assert_eq!(skus("Suspended", "INTUNE_A", "Success").active_plan(&intune), None);
        assert_eq!(skus("Enabled", "INTUNE_A", "PendingActivation").active_plan(&intune), None);
        assert_eq!(skus("Enabled", "INTUNE_O365", "Success").active_plan(&intune), None);
        assert_eq!(skus("Enabled", "INTUNE_A", "Success").len(), 2);
    }
}
