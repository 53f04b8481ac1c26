//! Reading `terraform show -json` output: state after apply and saved plans.

use serde_json::{Map, Value};

/// `terraform show -json` of a state.
pub struct StateJson(pub Value);

impl StateJson {
    pub fn parse(text: &str) -> Result<StateJson, String> {
        serde_json::from_str(text)
            .map(StateJson)
            .map_err(|e| format!("show -json output is not JSON: {e}"))
    }

    /// Every resource (managed and data) in the root module.
    pub fn resources(&self) -> Vec<&Map<String, Value>> {
        self.0
            .pointer("/values/root_module/resources")
            .and_then(Value::as_array)
            .map(|rs| rs.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    }

    pub fn addresses(&self) -> Vec<String> {
        self.resources()
            .iter()
            .filter_map(|r| r.get("address").and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    /// The attribute values of the resource at `address` (e.g. `rtest_everything.a`).
    pub fn resource(&self, address: &str) -> Option<&Map<String, Value>> {
        self.resources()
            .into_iter()
            .find(|r| r.get("address").and_then(Value::as_str) == Some(address))
            .and_then(|r| r.get("values"))
            .and_then(Value::as_object)
    }

    /// An attribute by JSON pointer below the resource's values (e.g. `name` or
    /// `network/0/subnet`).
    pub fn attr(&self, address: &str, pointer: &str) -> Option<&Value> {
        let values = self.resource(address)?;
        let mut parts = pointer.split('/');
        let first = values.get(parts.next()?)?;
        parts.try_fold(first, |v, p| match v {
            Value::Array(a) => a.get(p.parse::<usize>().ok()?),
            Value::Object(o) => o.get(p),
            _ => None,
        })
    }

    /// Asserts an attribute's value, with a readable error.
    pub fn expect(&self, address: &str, pointer: &str, want: Value) -> Result<(), String> {
        match self.attr(address, pointer) {
            Some(got) if *got == want => Ok(()),
            got => Err(format!("{address}.{pointer}: expected {want}, got {got:?}")),
        }
    }

    /// Which attribute paths are sensitive, as `show -json` reports them.
    pub fn sensitive_values(&self, address: &str) -> Option<&Value> {
        self.resources()
            .into_iter()
            .find(|r| r.get("address").and_then(Value::as_str) == Some(address))
            .and_then(|r| r.get("sensitive_values"))
    }
}

/// `terraform show -json` of a saved plan.
pub struct PlanJson(pub Value);

impl PlanJson {
    pub fn parse(text: &str) -> Result<PlanJson, String> {
        serde_json::from_str(text)
            .map(PlanJson)
            .map_err(|e| format!("show -json output is not JSON: {e}"))
    }

    /// The planned actions for a resource, e.g. `["create"]`, `["update"]`,
    /// `["delete","create"]`, `["no-op"]`.
    pub fn actions(&self, address: &str) -> Vec<String> {
        self.change(address)
            .and_then(|c| c.get("actions"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn change(&self, address: &str) -> Option<&Map<String, Value>> {
        self.0
            .get("resource_changes")
            .and_then(Value::as_array)?
            .iter()
            .filter_map(Value::as_object)
            .find(|r| r.get("address").and_then(Value::as_str) == Some(address))
            .and_then(|r| r.get("change"))
            .and_then(Value::as_object)
    }

    /// Whether `after_unknown` marks this top-level attribute as known after apply.
    pub fn is_unknown_after(&self, address: &str, attribute: &str) -> bool {
        self.change(address)
            .and_then(|c| c.get("after_unknown"))
            .and_then(|u| u.get(attribute))
            == Some(&Value::Bool(true))
    }

    /// A planned (known) top-level attribute value.
    pub fn after(&self, address: &str, attribute: &str) -> Option<&Value> {
        self.change(address)?.get("after")?.get(attribute)
    }

    /// The attribute paths Terraform reports as forcing replacement.
    pub fn replace_paths(&self, address: &str) -> Vec<Value> {
        self.0
            .get("resource_changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("address").and_then(Value::as_str) == Some(address))
            .and_then(|r| r.get("change"))
            .and_then(|c| c.get("replace_paths"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// Compares two resources' attribute maps, ignoring the named attributes.
pub fn compare_attributes(
    want: &Map<String, Value>,
    got: &Map<String, Value>,
    ignore: &[&str],
) -> Result<(), String> {
    let mut diffs = Vec::new();
    for (k, w) in want {
        if ignore.contains(&k.as_str()) {
            continue;
        }
        let g = got.get(k).unwrap_or(&Value::Null);
        if g != w {
            diffs.push(format!("{k}: expected {w}, imported {g}"));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}
