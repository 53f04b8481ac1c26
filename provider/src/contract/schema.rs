//! Validation of plaintext contract sections (being written).

/// Which section a plaintext YAML document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    Workload,
    Env,
}

/// One broken rule: the YAML path (e.g. `workload.volumes.data.seed`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaViolation {
    pub path: String,
    pub message: String,
}

/// Validates one plaintext section (YAML text). Returns every violation found.
pub fn validate_section(kind: SectionKind, yaml: &str) -> Result<(), Vec<SchemaViolation>> {
    let _ = (kind, yaml);
    Ok(())
}
