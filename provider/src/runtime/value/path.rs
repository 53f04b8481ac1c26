//! Paths into values, for error messages and diagnostics (`.network[2].name`).

use std::fmt;

/// One step from a value to a part of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An object attribute.
    Attr(String),
    /// A list or tuple element.
    Index(u64),
    /// A map element.
    Key(String),
    /// A set element, by its position on the wire. The plugin protocol has no step for set
    /// elements (diagnostics point at the set itself), so this is for messages only.
    SetElement(u64),
}

/// A path from the root value; empty for the root itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<PathStep>);

impl Path {
    pub fn root() -> Path {
        Path(Vec::new())
    }

    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// This path extended by one step.
    pub fn child(&self, step: PathStep) -> Path {
        let mut steps = self.0.clone();
        steps.push(step);
        Path(steps)
    }

    /// The longest prefix that the plugin protocol can express (it stops at a set element).
    pub fn protocol_prefix(&self) -> &[PathStep] {
        let end = self
            .0
            .iter()
            .position(|s| matches!(s, PathStep::SetElement(_)))
            .unwrap_or(self.0.len());
        &self.0[..end]
    }
}

impl From<Vec<PathStep>> for Path {
    fn from(steps: Vec<PathStep>) -> Path {
        Path(steps)
    }
}

impl fmt::Display for PathStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathStep::Attr(name) => write!(f, ".{name}"),
            PathStep::Index(i) | PathStep::SetElement(i) => write!(f, "[{i}]"),
            PathStep::Key(key) => write!(f, "[{key:?}]"),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(root)");
        }
        self.0.iter().try_for_each(|s| write!(f, "{s}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_terraform_expressions() {
        let p = Path(vec![
            PathStep::Attr("network".into()),
            PathStep::Index(2),
            PathStep::Attr("name".into()),
        ]);
        assert_eq!(p.to_string(), ".network[2].name");
        assert_eq!(Path::root().to_string(), "(root)");
        let m = Path::root().child(PathStep::Key("a\"b".into()));
        assert_eq!(m.to_string(), "[\"a\\\"b\"]");
    }

    #[test]
    fn protocol_prefix_stops_at_set_elements() {
        let p = Path(vec![
            PathStep::Attr("disks".into()),
            PathStep::SetElement(1),
            PathStep::Attr("size".into()),
        ]);
        assert_eq!(p.protocol_prefix(), &[PathStep::Attr("disks".into())]);
    }
}
