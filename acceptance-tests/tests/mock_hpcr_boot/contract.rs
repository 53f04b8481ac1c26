//! Contract pieces: the workload and env sections, `user_data` assembly, and the assertions
//! on an accepted or rejected boot.

use acceptance_tests::mock_cloud::hpcr::{BootOutcome, BootReport};

pub(crate) const WORKLOAD: &str = "type: workload
compose:
  archive: H4sIAAAAAAAAA+3OMQ6CQBCF4a05xZ5AZ4DF8xALGhNdjWtkE2cdbJpaGtoYkv5S/TvuYA+DZ/vAAAAAAAAAAD4zxt2pgfMACgAAA==
volumes:
  data:
    seed: workload-seed-Sup3rSecret
";

/// The env section, optionally with a `signingKey` line (already YAML-ready).
pub(crate) fn env_section(signing_key_line: Option<&str>) -> String {
    let mut s = String::from(
        "type: env
logging:
  logRouter:
    hostname: logs.eu-gb.logging.cloud.ibm.com
    iamApiKey: iam-api-key-Sup3rSecret
volumes:
  data:
    seed: env-seed-Sup3rSecret-0123
",
    );
    if let Some(line) = signing_key_line {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// `signingKey` as IBM's awk produces it: one line, literal `\n` escapes.
pub(crate) fn escaped_pem_line(pem: &str) -> String {
    format!(
        "signingKey: {}",
        pem.trim_end().split('\n').collect::<Vec<_>>().join("\\n")
    )
}

pub(crate) fn user_data(
    workload: &str,
    env: &str,
    signature: Option<&str>,
    attestation_key: Option<&str>,
) -> String {
    let mut s = String::new();
    if let Some(a) = attestation_key {
        s.push_str(&format!("attestationPublicKey: {a}\n"));
    }
    s.push_str(&format!("env: {env}\n"));
    if let Some(sig) = signature {
        s.push_str(&format!("envWorkloadSignature: {sig}\n"));
    }
    s.push_str(&format!("workload: {workload}\n"));
    s
}

pub(crate) fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

pub(crate) fn assert_accepted(r: &BootReport) {
    assert!(
        matches!(r.outcome, BootOutcome::Accepted { .. }),
        "expected acceptance, got {:?}\nconsole:\n{}",
        r.outcome,
        r.console.join("\n")
    );
    assert!(r.console.iter().any(|l| l == "# HPL11099I: bootloader end"));
    assert_eq!(
        r.console.last().map(String::as_str),
        Some("hpcr-catch-success[1421]: HPL10001I: Services succeeded -> systemd triggered hpl-catch-success service")
    );
    assert!(!r.console.iter().any(|l| l.starts_with("HPL11001E")));
}

/// Asserts a rejection whose reason contains every one of `needles`; returns the reason.
pub(crate) fn assert_rejected(r: &BootReport, needles: &[&str]) -> String {
    let reason = match &r.outcome {
        BootOutcome::Rejected { reason } => reason.clone(),
        other => panic!(
            "expected rejection, got {other:?}\nconsole:\n{}",
            r.console.join("\n")
        ),
    };
    let last = r.console.last().cloned().unwrap_or_default();
    assert_eq!(
        last,
        format!(
            "HPL11001E INVALID_CONTRACT Unable to parse/decrypt contract: {reason} Boot aborted"
        )
    );
    for n in needles {
        assert!(reason.contains(n), "reason {reason:?} lacks {n:?}");
    }
    // No secret from the sections may reach the console.
    for l in &r.console {
        assert!(!l.contains("Sup3rSecret"), "secret leaked: {l}");
    }
    assert!(!r.console.iter().any(|l| l.contains("HPL11099I")));
    assert!(!r.console.iter().any(|l| l.contains("HPL10001I")));
    reason
}
