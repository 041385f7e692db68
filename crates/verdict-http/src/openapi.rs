//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::continuous;
use crate::dto;
use crate::error;
use crate::handlers::{audit, connections, fleet, health, runs, schedules, verifications, webhooks};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Verdict", description = "Tenant verification for multi-tenant governance products."),
    paths(
        health::healthz, health::readyz, health::metrics, health::openapi,
        connections::create, connections::list, connections::get, connections::rotate_secret, connections::disable,
        verifications::start, verifications::list, verifications::latest,
        runs::view, runs::report, runs::acknowledge, runs::acknowledgements,
        audit::events, audit::verify, fleet::status,
        schedules::set, schedules::get, schedules::remove,
        webhooks::create, webhooks::list, webhooks::get, webhooks::delete, webhooks::rotate_secret,
        webhooks::deliveries,
    ),
    components(schemas(
        dto::StartVerificationRequest, dto::AcknowledgeRequest, dto::CreateConnectionRequest, dto::RotateSecretRequest,
        dto::ConnectionDto, dto::RunDto, dto::StartResponse, dto::AcknowledgementDto, dto::ChangeDto, dto::RunViewDto,
        dto::RunPageDto, dto::AuditPageDto, dto::ChainVerificationDto, fleet::FleetRowDto, fleet::FleetPageDto,
        error::ErrorBody, error::ErrorDetail, error::FieldProblem,
        continuous::SetScheduleRequest, continuous::ScheduleDto, continuous::CreateWebhookRequest,
        continuous::WebhookDto, continuous::WebhookWithSecretDto, continuous::DeliveryDto, continuous::DeliveryPageDto,
    )),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// The document as JSON, built once. The start body's `flow` lists the flows this build runs and
/// a webhook's `events` the event types core knows: the request rules the document states are
/// the server's own (a value outside them is a 422 a pattern alone would not predict).
#[must_use]
pub fn document() -> serde_json::Value {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let flows: Vec<serde_json::Value> = verdict_core::flows::FlowCatalog::builtin()
            .map(|catalog| catalog.iter().map(|f| f.id.as_str().into()).collect())
            .unwrap_or_default();
        if let Some(flow) = document
            .pointer_mut("/components/schemas/StartVerificationRequest/properties/flow")
            .and_then(|f| f.as_object_mut())
        {
            flow.insert("enum".to_owned(), flows.into());
        }
        let events: Vec<serde_json::Value> =
            verdict_core::domain::WebhookEventType::ALL.iter().map(|e| e.as_str().into()).collect();
        if let Some(items) = document
            .pointer_mut("/components/schemas/CreateWebhookRequest/properties/events/items")
            .and_then(|i| i.as_object_mut())
        {
            items.insert("enum".to_owned(), events.into());
        }
        add_links(&mut document);
        document
    });
    DOCUMENT.clone()
}

/// Where an identifier an answer carries can be used next: `(operation, statuses, where in the
/// body, operations taking it as `{id}`)`. Path parameters the two operations share (`ws`, `t`)
/// carry over from the request. Code generators and Schemathesis' stateful phase follow these
/// OpenAPI links (`Link Object`) from a created resource to the operations on it.
const LINKS: &[(&str, &[&str], &str, &[&str])] = &[
    (
        "create_provider_connection",
        &["201"],
        "/id",
        &[
            "get_provider_connection",
            "rotate_provider_connection_secret",
            "disable_provider_connection",
            "set_schedule",
            "get_schedule",
            "remove_schedule",
        ],
    ),
    (
        "start_verification",
        &["201", "200"],
        "/run/id",
        &["get_run", "get_run_report", "acknowledge_check", "list_acknowledgements"],
    ),
    (
        "create_webhook",
        &["201"],
        "/webhook/id",
        &["get_webhook", "delete_webhook", "rotate_webhook_secret", "list_webhook_deliveries"],
    ),
];

/// Adds [`LINKS`] to the responses they start from.
fn add_links(document: &mut serde_json::Value) {
    use serde_json::{Map, Value, json};
    // operationId → (path, method): targets' path parameters decide what each link carries.
    let mut operations: std::collections::HashMap<String, (String, String)> = std::collections::HashMap::new();
    for (path, item) in document.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                operations.insert(id.to_owned(), (path.clone(), method.clone()));
            }
        }
    }
    for (source, statuses, pointer, targets) in LINKS {
        let Some((source_path, method)) = operations.get(*source) else { continue };
        let source_parameters = path_parameters(source_path);
        let mut links = Map::new();
        for target in *targets {
            let Some((target_path, _)) = operations.get(*target) else { continue };
            let parameters: Map<String, Value> = path_parameters(target_path)
                .into_iter()
                .filter_map(|name| {
                    let value = if name == "id" {
                        format!("$response.body#{pointer}")
                    } else if source_parameters.contains(&name) {
                        format!("$request.path.{name}")
                    } else {
                        return None;
                    };
                    Some((name, Value::String(value)))
                })
                .collect();
            links.insert((*target).to_owned(), json!({"operationId": target, "parameters": parameters}));
        }
        let escaped = source_path.replace('~', "~0").replace('/', "~1");
        for status in *statuses {
            let at = format!("/paths/{escaped}/{method}/responses/{status}");
            if let Some(response) = document.pointer_mut(&at).and_then(Value::as_object_mut) {
                response.insert("links".to_owned(), Value::Object(links.clone()));
            }
        }
    }
}

/// The `{name}`s of a path template.
fn path_parameters(path: &str) -> Vec<String> {
    path.split('{').skip(1).filter_map(|rest| rest.split_once('}')).map(|(name, _)| name.to_owned()).collect()
}
