//! The one-shot subcommands: `migrate`, `token issue`, `audit verify`, `audit export`.

use std::io::Write;

use anyhow::{Context, Result, bail};
use secrecy::ExposeSecret;
use serde_json::json;
use verdict_core::domain::{Capability, WorkspaceId};
use verdict_core::ports::ChainPages;
use verdict_core::services::verify_chain;
use verdict_http::auth::{IssuedClaims, issue_hs256};

use crate::cli::TokenIssueArgs;
use crate::config::Keys;
use crate::store::Store;

/// Events read per round trip while exporting.
const EXPORT_PAGE: u32 = 1000;

/// Signs a development token with the configured (or development) HS256 secret.
///
/// # Errors
/// When tokens are not HS256, or an argument is invalid.
pub fn token_issue(keys: &Keys, audience: &str, issuer: Option<&str>, args: &TokenIssueArgs) -> Result<String> {
    let Some(secret) = &keys.hs256_secret else {
        bail!("tokens are verified with a public key here; issue them with the matching private key");
    };
    WorkspaceId::new(args.workspace).context("--workspace must be a positive integer")?;
    let tenants = if args.tenants.trim() == "*" {
        json!("*")
    } else {
        let ids: Result<Vec<i64>, _> = args.tenants.split(',').map(|t| t.trim().parse::<i64>()).collect();
        let ids = ids.context("--tenants must be `*` or comma-separated positive integers")?;
        if ids.iter().any(|id| *id <= 0) {
            bail!("--tenants must be `*` or comma-separated positive integers");
        }
        json!(ids)
    };
    let capabilities: Vec<&str> = if args.capabilities.trim() == "all" {
        Capability::ALL.iter().map(|c| c.as_str()).collect()
    } else {
        let names: Vec<&str> = args.capabilities.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
        for name in &names {
            Capability::parse(name).map_err(|_| anyhow::anyhow!("unknown capability {name}"))?;
        }
        names
    };
    let ttl = parse_ttl(&args.ttl)?;
    let now = chrono::Utc::now().timestamp();
    let claims = IssuedClaims {
        sub: args.sub.clone(),
        exp: now + ttl,
        nbf: now - 5,
        aud: audience.to_owned(),
        iss: issuer.map(str::to_owned),
        memberships: json!([{ "workspace_id": args.workspace, "tenant_ids": tenants, "capabilities": capabilities }]),
    };
    issue_hs256(secret.expose_secret(), &claims).context("signing the token")
}

/// Parses a token lifetime such as `90s`, `30m`, `12h`, `7d` or `1h 30m` into seconds.
///
/// # Errors
/// Anything that is not a duration, or one outside 1 second to 365 days.
pub fn parse_ttl(text: &str) -> Result<i64> {
    let duration = humantime::parse_duration(text.trim())
        .with_context(|| format!("--ttl {text:?}: use e.g. 90s, 30m, 12h, 7d"))?;
    let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    if !(1..=365 * 86_400).contains(&seconds) {
        bail!("--ttl must be between 1 second and 365 days");
    }
    Ok(seconds)
}

/// Verifies a workspace's chain, printing the result as JSON. Returns whether it is valid.
///
/// # Errors
/// When the store cannot be read.
pub async fn audit_verify(store: &Store, workspace: i64, out: &mut impl Write) -> Result<bool> {
    let workspace = WorkspaceId::new(workspace).context("--workspace must be a positive integer")?;
    let log = store.audit_log();
    let result = verify_chain(log.as_ref(), workspace).await.context("reading the audit trail")?;
    writeln!(out, "{}", serde_json::to_string(&result)?)?;
    Ok(result.valid)
}

/// Writes a workspace's events as JSON lines in `seq` order.
///
/// # Errors
/// When the store cannot be read or the output written.
pub async fn audit_export(store: &Store, workspace: i64, out: &mut impl Write) -> Result<u64> {
    let workspace = WorkspaceId::new(workspace).context("--workspace must be a positive integer")?;
    let log = store.audit_log();
    let mut pages = ChainPages::new(log.as_ref(), workspace, None, EXPORT_PAGE);
    let mut written = 0;
    while let Some(page) = pages.next_page().await.context("reading the audit trail")? {
        for event in &page {
            writeln!(out, "{}", serde_json::to_string(&event)?)?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse() {
        assert_eq!(parse_ttl("90s").unwrap(), 90);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("12h").unwrap(), 43_200);
        assert_eq!(parse_ttl("7d").unwrap(), 604_800);
        assert_eq!(parse_ttl("1h 30m").unwrap(), 5400);
        // A multi-byte last character and numbers beyond any integer used to panic or overflow.
        for bad in
            ["", "h", "0s", "-1h", "400d", "abc", "12é", "1ß", "99999999999999999999999999d", "18446744073709551615s"]
        {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
