//! Hyper Protect image selection from an image list (fact sheet §13), plus the version
//! constraint syntax shared with encryption-certificate selection ([`VersionConstraint`]).
//!
//! Accepts the VPC API `GET /images` response (`{"images": [...]}` or the bare array) and
//! the Terraform `ibm_is_images` data source's `images` attribute, whose `operating_system`
//! is a one-element list and which also carries flat `architecture` / `os` / `checksum`.

use std::fmt;

use serde_json::Value;

/// The chosen image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedImage {
    pub id: String,
    pub name: String,
    /// `major.minor.patch` read from the image name (`…-1-0-s390x-22` → `1.0.22`).
    pub version: semver::Version,
    /// SHA-256 of the image file, when the list carries one.
    pub checksum: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("images JSON is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("images JSON must be a list of images or an object with an `images` list, found {0}")]
    Shape(&'static str),
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
    #[error("no Hyper Protect image matching version constraint `{constraint}` found: {summary}")]
    NoMatch {
        constraint: String,
        /// Human-readable account of what was seen and why images were excluded.
        summary: String,
        seen: usize,
        candidates: usize,
    },
}

/// A version constraint: `*`, `>=1.0.20`, `~1.0`, `^1`, `>=1.0.20, <1.1`, `1.0.22` (exact),
/// alternatives joined with `||`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionConstraint {
    text: String,
    alternatives: Vec<semver::VersionReq>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version constraint `{constraint}`: {reason}")]
pub struct ConstraintError {
    pub constraint: String,
    pub reason: String,
}

impl VersionConstraint {
    /// Parses a constraint; empty text means `*`. A bare full version is an exact match
    /// (as in Terraform and contract-go), not Cargo's caret default.
    pub fn parse(text: &str) -> Result<Self, ConstraintError> {
        let trimmed = text.trim();
        let trimmed = if trimmed.is_empty() { "*" } else { trimmed };
        let mut alternatives = Vec::new();
        for alt in trimmed.split("||") {
            let alt = alt.trim();
            let req = if let Ok(v) = semver::Version::parse(alt.trim_start_matches('v')) {
                semver::VersionReq::parse(&format!("={v}"))
            } else {
                let translated = pessimistic_to_semver(alt).map_err(|reason| ConstraintError {
                    constraint: text.to_string(),
                    reason,
                })?;
                semver::VersionReq::parse(&translated)
            };
            alternatives.push(req.map_err(|e| ConstraintError {
                constraint: text.to_string(),
                reason: e.to_string(),
            })?);
        }
        Ok(Self {
            text: trimmed.to_string(),
            alternatives,
        })
    }

    pub fn matches(&self, v: &semver::Version) -> bool {
        self.alternatives.iter().any(|r| r.matches(v))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Rewrites Terraform's pessimistic operator (`~> 1.1` = `>=1.1.0, <2.0.0`; `~> 1.0.20` =
/// `>=1.0.20, <1.1.0`; `~> 1` = `>=1.0.0`: only the rightmost given part may grow) into
/// comparators the `semver` crate reads, leaving every other comparator as it is. Cargo's
/// own `~1.1` means something else (`<1.2.0`), so the two spellings must not be conflated.
fn pessimistic_to_semver(alternative: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for part in alternative.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix("~>") else {
            out.push(part.to_string());
            continue;
        };
        let rest = rest.trim().trim_start_matches('v');
        let numbers: Vec<u64> = rest
            .split('.')
            .map(|n| n.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("`~> {rest}` needs a version made of 1 to 3 numbers"))?;
        match numbers[..] {
            [major] => out.push(format!(">={major}.0.0")),
            [major, minor] => out.push(format!(">={major}.{minor}.0, <{}.0.0", major + 1)),
            [major, minor, patch] => out.push(format!(
                ">={major}.{minor}.{patch}, <{major}.{}.0",
                minor + 1
            )),
            _ => {
                return Err(format!(
                    "`~> {rest}` needs a version made of 1 to 3 numbers"
                ))
            }
        }
    }
    Ok(out.join(", "))
}

impl fmt::Display for VersionConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Picks the highest Hyper Protect image version matching `constraint` (empty = `*`).
/// Among images with the same version, the later one in the list wins.
pub fn select_image(images_json: &str, constraint: &str) -> Result<SelectedImage, ImageError> {
    let constraint = VersionConstraint::parse(constraint)?;
    let root: Value = serde_json::from_str(images_json).map_err(ImageError::Json)?;
    let list = match &root {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("images") {
            Some(Value::Array(a)) => a,
            Some(other) => return Err(ImageError::Shape(json_kind(other))),
            None => return Err(ImageError::Shape("an object without `images`")),
        },
        other => return Err(ImageError::Shape(json_kind(other))),
    };

    let mut rejected = Tally::default();
    let mut candidates: Vec<SelectedImage> = Vec::new();
    for image in list {
        match candidate(image) {
            Ok(c) => candidates.push(c),
            Err(reason) => rejected.add(reason),
        }
    }
    let mut best: Option<&SelectedImage> = None;
    for c in candidates.iter().filter(|c| constraint.matches(&c.version)) {
        if best.is_none_or(|b| c.version >= b.version) {
            best = Some(c);
        }
    }
    if let Some(b) = best {
        return Ok(b.clone());
    }

    let mut versions: Vec<&semver::Version> = candidates.iter().map(|c| &c.version).collect();
    versions.sort();
    versions.dedup();
    let mut summary = format!(
        "{} image(s) seen, {} Hyper Protect candidate(s)",
        list.len(),
        candidates.len()
    );
    if !versions.is_empty() {
        let v: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
        summary.push_str(&format!(" (versions {})", v.join(", ")));
    }
    let reasons = rejected.describe();
    if !reasons.is_empty() {
        summary.push_str(&format!("; excluded: {reasons}"));
    }
    Err(ImageError::NoMatch {
        constraint: constraint.to_string(),
        summary,
        seen: list.len(),
        candidates: candidates.len(),
    })
}

/// Why an image is not a Hyper Protect candidate (first failing rule).
#[derive(Clone, Copy)]
enum Reject {
    NotAnObject,
    Architecture,
    Status,
    Visibility,
    OperatingSystem,
    Name,
}

#[derive(Default)]
struct Tally([usize; 6]);

impl Tally {
    fn add(&mut self, r: Reject) {
        self.0[r as usize] += 1;
    }

    fn describe(&self) -> String {
        const LABELS: [&str; 6] = [
            "not a JSON object",
            "architecture not s390x",
            "status not available",
            "visibility not public",
            "operating system not hyper-protect-*-s390x-hpcr",
            "name not ibm-hyper-protect-container-runtime-<major>-<minor>-s390x-<patch>",
        ];
        self.0
            .iter()
            .zip(LABELS)
            .filter(|(n, _)| **n > 0)
            .map(|(n, l)| format!("{n} {l}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn candidate(image: &Value) -> Result<SelectedImage, Reject> {
    let Value::Object(obj) = image else {
        return Err(Reject::NotAnObject);
    };
    let os_obj = match obj.get("operating_system") {
        Some(Value::Object(o)) => Some(o),
        Some(Value::Array(a)) => a.first().and_then(Value::as_object),
        _ => None,
    };
    let field = |flat: &str, nested: &str| -> Option<&str> {
        obj.get(flat)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| os_obj.and_then(|o| o.get(nested)).and_then(Value::as_str))
    };
    if field("architecture", "architecture") != Some("s390x") {
        return Err(Reject::Architecture);
    }
    if obj.get("status").and_then(Value::as_str) != Some("available") {
        return Err(Reject::Status);
    }
    if obj.get("visibility").and_then(Value::as_str) != Some("public") {
        return Err(Reject::Visibility);
    }
    if !field("os", "name").is_some_and(is_hpcr_os) {
        return Err(Reject::OperatingSystem);
    }
    let name = obj.get("name").and_then(Value::as_str).unwrap_or_default();
    let version = version_from_name(name).ok_or(Reject::Name)?;
    let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
    let checksum = obj
        .get("checksum")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            image
                .pointer("/file/checksums/sha256")
                .and_then(Value::as_str)
        })
        .map(str::to_string);
    Ok(SelectedImage {
        id: id.to_string(),
        name: name.to_string(),
        version,
        checksum,
    })
}

/// `^hyper-protect-[\w-]+-s390x-hpcr$`
pub fn is_hpcr_os(os: &str) -> bool {
    os.strip_prefix("hyper-protect-")
        .and_then(|rest| rest.strip_suffix("-s390x-hpcr"))
        .is_some_and(|mid| {
            !mid.is_empty()
                && mid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// `^ibm-hyper-protect-container-runtime-(\d+)-(\d+)-s390x-(\d+)$` → `major.minor.patch`.
pub fn version_from_name(name: &str) -> Option<semver::Version> {
    let rest = name.strip_prefix("ibm-hyper-protect-container-runtime-")?;
    let (major, rest) = rest.split_once('-')?;
    let (minor, patch) = rest.split_once("-s390x-")?;
    let num = |s: &str| {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
            s.parse::<u64>().ok()
        } else {
            None
        }
    };
    Some(semver::Version::new(num(major)?, num(minor)?, num(patch)?))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api_image(name: &str, id: &str, arch: &str, status: &str, vis: &str, os: &str) -> Value {
        json!({
            "id": id,
            "name": name,
            "status": status,
            "visibility": vis,
            "file": {"checksums": {"sha256": format!("sum-{id}")}, "size": 10},
            "operating_system": {"name": os, "architecture": arch, "family": "Hyper Protect"},
        })
    }

    fn hp(patch: u32, id: &str) -> Value {
        api_image(
            &format!("ibm-hyper-protect-container-runtime-1-0-s390x-{patch}"),
            id,
            "s390x",
            "available",
            "public",
            "hyper-protect-1-0-s390x-hpcr",
        )
    }

    fn terraform_image(name: &str, id: &str, os_as_list: bool) -> Value {
        let os = json!({"name": "hyper-protect-1-0-s390x-hpcr", "architecture": "s390x"});
        json!({
            "id": id,
            "name": name,
            "architecture": "s390x",
            "os": "hyper-protect-1-0-s390x-hpcr",
            "checksum": format!("tf-{id}"),
            "status": "available",
            "visibility": "public",
            "operating_system": if os_as_list { json!([os]) } else { os },
        })
    }

    fn mixed_list() -> Vec<Value> {
        vec![
            hp(22, "r-22"),
            hp(24, "r-24"),
            hp(23, "r-23"),
            // Newer but excluded for one reason each.
            api_image(
                "ibm-hyper-protect-container-runtime-1-0-s390x-30",
                "dep",
                "s390x",
                "deprecated",
                "public",
                "hyper-protect-1-0-s390x-hpcr",
            ),
            api_image(
                "ibm-hyper-protect-container-runtime-1-0-s390x-31",
                "priv",
                "s390x",
                "available",
                "private",
                "hyper-protect-1-0-s390x-hpcr",
            ),
            api_image(
                "ibm-hyper-protect-container-runtime-1-0-s390x-32",
                "x86",
                "amd64",
                "available",
                "public",
                "hyper-protect-1-0-s390x-hpcr",
            ),
            api_image(
                "ibm-hyper-protect-container-runtime-1-0-s390x-33",
                "os",
                "s390x",
                "available",
                "public",
                "ubuntu-22-04-s390x",
            ),
            api_image(
                "ibm-ubuntu-22-04-5-minimal-s390x-5",
                "ubuntu",
                "s390x",
                "available",
                "public",
                "hyper-protect-1-0-s390x-hpcr",
            ),
            json!("not an image"),
        ]
    }

    #[test]
    fn vpc_api_shapes_pick_the_highest_available_public_s390x_image() {
        let list = mixed_list();
        for text in [
            serde_json::to_string(&json!({"images": list})).unwrap(),
            serde_json::to_string(&list).unwrap(),
        ] {
            let img = select_image(&text, "*").unwrap();
            assert_eq!(img.id, "r-24");
            assert_eq!(img.name, "ibm-hyper-protect-container-runtime-1-0-s390x-24");
            assert_eq!(img.version, semver::Version::new(1, 0, 24));
            assert_eq!(img.checksum.as_deref(), Some("sum-r-24"));
            // Empty constraint means `*`.
            assert_eq!(select_image(&text, "").unwrap().id, "r-24");
        }
    }

    #[test]
    fn terraform_pessimistic_operator_lets_only_the_rightmost_part_grow() {
        let v = |s: &str| semver::Version::parse(s).unwrap();
        let c = |s: &str| VersionConstraint::parse(s).unwrap();
        let two = c("~> 1.1");
        assert!(two.matches(&v("1.1.0")) && two.matches(&v("1.9.3")));
        assert!(!two.matches(&v("1.0.29")) && !two.matches(&v("2.0.0")));
        let three = c("~> 1.0.20");
        assert!(three.matches(&v("1.0.20")) && three.matches(&v("1.0.99")));
        assert!(!three.matches(&v("1.0.19")) && !three.matches(&v("1.1.0")));
        let one = c("~>1");
        assert!(one.matches(&v("1.0.0")) && one.matches(&v("7.2.1")));
        assert!(!one.matches(&v("0.9.9")));
        let combined = c("~> 1.0.20, < 1.0.22 || 26.5.0");
        assert!(combined.matches(&v("1.0.21")) && combined.matches(&v("26.5.0")));
        assert!(!combined.matches(&v("1.0.22")));
        // Cargo's tilde keeps its own meaning.
        assert!(!c("~1.1").matches(&v("1.2.0")));
        for bad in ["~> ", "~> 1.x", "~> 1.2.3.4"] {
            let err = VersionConstraint::parse(bad).unwrap_err();
            assert!(err.to_string().contains("1 to 3 numbers"), "{bad}: {err}");
        }
    }

    #[test]
    fn constraints_filter_versions() {
        let text = serde_json::to_string(&mixed_list()).unwrap();
        let pick = |c: &str| select_image(&text, c).map(|i| i.id);
        assert_eq!(pick("<1.0.24").unwrap(), "r-23");
        assert_eq!(pick("1.0.22").unwrap(), "r-22", "bare version is exact");
        assert_eq!(pick("=1.0.23").unwrap(), "r-23");
        assert_eq!(pick("~1.0").unwrap(), "r-24");
        assert_eq!(pick(">=1.0.22, <1.0.24").unwrap(), "r-23");
        assert_eq!(pick("1.0.22 || 1.0.23").unwrap(), "r-23");
        assert!(matches!(pick(">=1.0.25"), Err(ImageError::NoMatch { .. })));
        assert!(matches!(
            pick("not a version"),
            Err(ImageError::Constraint(_))
        ));
    }

    #[test]
    fn terraform_shape_with_list_or_object_operating_system() {
        let list = json!([
            terraform_image(
                "ibm-hyper-protect-container-runtime-1-0-s390x-21",
                "tf-21",
                true
            ),
            terraform_image(
                "ibm-hyper-protect-container-runtime-1-0-s390x-25",
                "tf-25",
                false
            ),
            terraform_image(
                "ibm-hyper-protect-container-runtime-1-1-s390x-2",
                "tf-1-1-2",
                true
            ),
        ]);
        let img = select_image(&list.to_string(), "~1.0").unwrap();
        assert_eq!(
            (img.id.as_str(), img.checksum.as_deref()),
            ("tf-25", Some("tf-tf-25"))
        );
        let img = select_image(&list.to_string(), "*").unwrap();
        assert_eq!(img.version, semver::Version::new(1, 1, 2));
        // Flat fields win over operating_system, which is only the fallback.
        let mut odd = terraform_image(
            "ibm-hyper-protect-container-runtime-1-0-s390x-9",
            "flat",
            true,
        );
        odd["architecture"] = json!("amd64");
        assert!(select_image(&json!([odd]).to_string(), "*").is_err());
    }

    #[test]
    fn duplicate_versions_take_the_later_image() {
        let list = json!([hp(24, "first"), hp(23, "other"), hp(24, "second")]);
        assert_eq!(select_image(&list.to_string(), "*").unwrap().id, "second");
    }

    #[test]
    fn no_match_error_explains_what_was_seen() {
        let text = serde_json::to_string(&mixed_list()).unwrap();
        let err = select_image(&text, ">=1.0.25").unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg,
            "no Hyper Protect image matching version constraint `>=1.0.25` found: 9 image(s) seen, \
             3 Hyper Protect candidate(s) (versions 1.0.22, 1.0.23, 1.0.24); excluded: \
             1 not a JSON object, 1 architecture not s390x, 1 status not available, \
             1 visibility not public, 1 operating system not hyper-protect-*-s390x-hpcr, \
             1 name not ibm-hyper-protect-container-runtime-<major>-<minor>-s390x-<patch>"
        );
        assert!(matches!(
            err,
            ImageError::NoMatch {
                seen: 9,
                candidates: 3,
                ..
            }
        ));

        let err = select_image("[]", "*").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("0 image(s) seen, 0 Hyper Protect candidate(s)"),
            "{err}"
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(matches!(select_image("{", "*"), Err(ImageError::Json(_))));
        assert!(matches!(
            select_image("42", "*"),
            Err(ImageError::Shape("a number"))
        ));
        assert!(matches!(
            select_image("{\"images\": {}}", "*"),
            Err(ImageError::Shape("an object"))
        ));
        assert!(matches!(
            select_image("{\"x\": []}", "*"),
            Err(ImageError::Shape(_))
        ));
        let missing_fields = json!([{"name": 5, "operating_system": []}]);
        assert!(matches!(
            select_image(&missing_fields.to_string(), "*"),
            Err(ImageError::NoMatch { .. })
        ));
    }

    #[test]
    fn name_and_os_patterns() {
        assert_eq!(
            version_from_name("ibm-hyper-protect-container-runtime-1-0-s390x-22"),
            Some(semver::Version::new(1, 0, 22))
        );
        for bad in [
            "ibm-hyper-protect-container-runtime-1-0-s390x-",
            "ibm-hyper-protect-container-runtime-1-0-s390x-22-x",
            "ibm-hyper-protect-container-runtime-1-a-s390x-22",
            "ibm-hyper-protect-container-runtime-1-0-amd64-22",
            "ibm-hyper-protect-container-runtime-1-s390x-22",
        ] {
            assert_eq!(version_from_name(bad), None, "{bad}");
        }
        assert!(is_hpcr_os("hyper-protect-1-0-s390x-hpcr"));
        assert!(is_hpcr_os("hyper-protect-basic_1-s390x-hpcr"));
        assert!(!is_hpcr_os("hyper-protect--s390x-hpcr"));
        assert!(!is_hpcr_os("hyper-protect-s390x-hpcr"));
        assert!(!is_hpcr_os("hyper-protect-1.0-s390x-hpcr"));
    }
}
