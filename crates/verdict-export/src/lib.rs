//! Exports of a stored verification report (docs/contract.md#exports): SARIF 2.1.0 for code-scanning
//! dashboards, JUnit XML for CI test viewers, and the content negotiation that picks one.
//!
//! Pure functions over stored data: the HTTP handler loads the run, its report, the previous
//! report and the acknowledgements, pairs them with [`ExportInput::new`], picks the format with
//! [`negotiate`] and answers with [`render`]. Nothing here reads a clock, a store or the network.

mod accept;
mod input;
mod junit;
mod negotiate;
#[cfg(feature = "oracles")]
pub mod oracles;
mod sarif;
mod sarif_map;

pub use input::{ExportError, ExportInput};
pub use junit::{STILL_RUNNING, junit, xml_safe};
pub use negotiate::{ExportFormat, NegotiationError, negotiate};
pub use sarif::{CHECK_LOCATION_KIND, SARIF_SCHEMA_URI, TOOL_NAME, sarif, sarif_json};
pub use sarif_map::{FINGERPRINT_KEY, baseline_state, check_fingerprint, kind_and_level, level_for_severity};

/// The typed SARIF objects [`sarif`] returns, re-exported so callers need no direct dependency.
pub use serde_sarif::sarif as sarif_types;

/// A rendered export: what the handler puts in the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The format.
    pub format: ExportFormat,
    /// The `Content-Type`.
    pub media_type: &'static str,
    /// A download name for `Content-Disposition`.
    pub file_name: String,
    /// The document.
    pub body: String,
}

/// Renders the export of `input` in `format`. [`ExportFormat::Json`] is the stored report
/// itself, serialized exactly as the JSON endpoints return it.
///
/// # Errors
/// [`ExportError::Write`] if a document cannot be written (not expected for in-memory output).
pub fn render(format: ExportFormat, input: &ExportInput<'_>) -> Result<Rendered, ExportError> {
    let body = match format {
        ExportFormat::Json => serde_json::to_string(input.report())
            .map_err(|e| ExportError::Write { format: "json", reason: e.to_string() })?,
        ExportFormat::Sarif => sarif_json(input)?,
        ExportFormat::Junit => junit(input)?,
    };
    Ok(Rendered { format, media_type: format.media_type(), file_name: format.file_name(input.run().id), body })
}
