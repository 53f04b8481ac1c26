//! Diagnostics (errors and warnings shown to the user) and the attribute paths that point
//! them at the right place in the user's configuration.

use std::fmt;

use super::proto::tfplugin6 as pb;

/// One step of an attribute path. Set elements have no step of their own: a diagnostic about
/// one points at the set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Attribute(String),
    Key(String),
    Index(i64),
}

/// Where in a resource's value something is, e.g. `network[0].subnet`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    pub fn root() -> AttrPath {
        AttrPath(Vec::new())
    }
    pub fn attr(name: impl Into<String>) -> AttrPath {
        AttrPath(vec![PathStep::Attribute(name.into())])
    }
    pub fn then_attr(&self, name: impl Into<String>) -> AttrPath {
        let mut p = self.clone();
        p.0.push(PathStep::Attribute(name.into()));
        p
    }
    pub fn then_key(&self, key: impl Into<String>) -> AttrPath {
        let mut p = self.clone();
        p.0.push(PathStep::Key(key.into()));
        p
    }
    pub fn then_index(&self, index: usize) -> AttrPath {
        let mut p = self.clone();
        p.0.push(PathStep::Index(index as i64));
        p
    }
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_proto(&self) -> pb::AttributePath {
        use pb::attribute_path::step::Selector;
        pb::AttributePath {
            steps: self
                .0
                .iter()
                .map(|s| pb::attribute_path::Step {
                    selector: Some(match s {
                        PathStep::Attribute(a) => Selector::AttributeName(a.clone()),
                        PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                        PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }
}

/// A value path as an attribute path (set elements have no step: the path stops at the set).
impl From<&super::value::Path> for AttrPath {
    fn from(path: &super::value::Path) -> AttrPath {
        use super::value::PathStep as V;
        AttrPath(
            path.protocol_prefix()
                .iter()
                .filter_map(|s| match s {
                    V::Attr(a) => Some(PathStep::Attribute(a.clone())),
                    V::Key(k) => Some(PathStep::Key(k.clone())),
                    V::Index(i) => Some(PathStep::Index(i64::try_from(*i).unwrap_or(i64::MAX))),
                    V::SetElement(_) => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attribute(a) => write!(f, ".{a}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttrPath>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail)
        }
    }
    /// Points the diagnostic at an attribute (Terraform then shows the config line).
    pub fn at(mut self, path: AttrPath) -> Diagnostic {
        self.path = (!path.is_root()).then_some(path);
        self
    }

    pub fn to_proto(&self) -> pb::Diagnostic {
        pb::Diagnostic {
            severity: match self.severity {
                Severity::Error => pb::diagnostic::Severity::Error,
                Severity::Warning => pb::diagnostic::Severity::Warning,
            } as i32,
            summary: self.summary.clone(),
            detail: self.detail.clone(),
            attribute: self.path.as_ref().map(AttrPath::to_proto),
        }
    }
}

/// An ordered collection of diagnostics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::error(summary, detail));
    }
    pub fn error_at(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic::error(summary, detail).at(path));
    }
    pub fn warning_at(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic::warning(summary, detail).at(path));
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn to_proto(&self) -> Vec<pb::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::attribute_path::step::Selector;

    #[test]
    fn path_displays_like_terraform_addresses() {
        let p = AttrPath::attr("network")
            .then_index(0)
            .then_attr("tags")
            .then_key("env");
        assert_eq!(p.to_string(), "network[0].tags[\"env\"]");
    }

    #[test]
    fn path_to_proto_uses_the_right_selectors() {
        let p = AttrPath::attr("a").then_index(2).then_key("k").to_proto();
        let selectors: Vec<_> = p.steps.into_iter().map(|s| s.selector.unwrap()).collect();
        assert_eq!(
            selectors,
            vec![
                Selector::AttributeName("a".into()),
                Selector::ElementKeyInt(2),
                Selector::ElementKeyString("k".into())
            ]
        );
    }

    #[test]
    fn severities_map_to_wire_values_and_root_paths_are_omitted() {
        let e = Diagnostic::error("s", "d").at(AttrPath::root()).to_proto();
        assert_eq!(e.severity, 1);
        assert!(e.attribute.is_none());
        let w = Diagnostic::warning("s", "d")
            .at(AttrPath::attr("x"))
            .to_proto();
        assert_eq!(w.severity, 2);
        assert!(w.attribute.is_some());
        let mut all = Diagnostics::new();
        all.push(Diagnostic::warning("w", ""));
        assert!(!all.has_errors());
        all.error("e", "");
        assert!(all.has_errors());
    }
}
