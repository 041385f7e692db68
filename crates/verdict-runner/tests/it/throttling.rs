//! Throttling (docs/contract.md#provider-flow): a `Retry-After` of at most 10 s that fits in the check's timeout is
//! waited out, at most twice; otherwise the check warns `throttled` with the value. And a fresh
//! token every run.

use std::time::Duration;

use serde_json::json;
use verdict_core::domain::{CheckStatus, Overall, ReasonCode};
use verdict_core::flows::keys::{GRAPH_ORGANIZATION, TOKEN_ACQUISITION};
use verdict_runner::fake::Reply;

use crate::support::{Backend, Options, check, evidence, on_every_backend, world, world_with};

async fn one_429_with_retry_after_1_is_waited_out_to_a_pass(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| {
        b.token = Reply::ThrottleOnce { retry_after_seconds: 1 };
        b.organization = Reply::ThrottleOnce { retry_after_seconds: 1 };
    });
    let report = w.run_once().await.report.unwrap();
    assert_eq!(check(&report, TOKEN_ACQUISITION).status, CheckStatus::Pass);
    assert_eq!(check(&report, GRAPH_ORGANIZATION).status, CheckStatus::Pass);
    assert_eq!(report.summary().overall, Overall::Ready);
    assert_eq!((w.provider.requests_to("token"), w.provider.requests_to("organization")), (2, 2));
}

async fn a_retry_after_of_60_is_not_waited(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.organization = Reply::Status(429));
    let report = w.run_once().await.report.unwrap();
    let organization = check(&report, GRAPH_ORGANIZATION);
    assert_eq!(
        (organization.status, organization.reason_code, organization.blocking),
        (CheckStatus::Warn, ReasonCode::THROTTLED, false)
    );
    assert_eq!(evidence(organization, "retry_after_seconds"), Some(json!(60)));
    assert_eq!(w.provider.requests_to("organization"), 1);
}

async fn throttling_is_waited_out_at_most_twice(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| {
        b.retry_after_seconds = 1;
        b.organization = Reply::Status(429);
    });
    let report = w.run_once().await.report.unwrap();
    let organization = check(&report, GRAPH_ORGANIZATION);
    assert_eq!((organization.status, organization.reason_code), (CheckStatus::Warn, ReasonCode::THROTTLED));
    assert_eq!(evidence(organization, "retry_after_seconds"), Some(json!(1)));
    assert_eq!(w.provider.requests_to("organization"), 3, "the first request and two retries");
}

async fn a_wait_that_does_not_fit_the_check_timeout_is_not_started(backend: Backend) {
    let w = world_with(Options { backend, check_timeout: Duration::from_secs(2), ..Options::default() }).await;
    w.provider.update(|b| {
        b.retry_after_seconds = 5;
        b.organization = Reply::Status(429);
    });
    let report = w.run_once().await.report.unwrap();
    let organization = check(&report, GRAPH_ORGANIZATION);
    assert_eq!((organization.status, organization.reason_code), (CheckStatus::Warn, ReasonCode::THROTTLED));
    assert_eq!(evidence(organization, "retry_after_seconds"), Some(json!(5)));
    assert_eq!(w.provider.requests_to("organization"), 1);
}

async fn every_run_acquires_a_fresh_token(backend: Backend) {
    let w = world(backend).await;
    w.run_once().await;
    w.run_once().await;
    let tokens = w.provider.issued_tokens();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1]);
}

on_every_backend!(
    one_429_with_retry_after_1_is_waited_out_to_a_pass,
    a_retry_after_of_60_is_not_waited,
    throttling_is_waited_out_at_most_twice,
    a_wait_that_does_not_fit_the_check_timeout_is_not_started,
    every_run_acquires_a_fresh_token,
);
