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
        document
    });
    DOCUMENT.clone()
}
