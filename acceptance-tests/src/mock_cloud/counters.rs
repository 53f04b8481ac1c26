//! Counts of the IAM, VPC and Global Tagging/Search requests mock-cloud served (faulted ones included), by
//! method and route with ids replaced by `{id}`, so a test can state how many calls a
//! client needed per object (`GET /_mock/requests`). Test-control routes are not counted.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Collections whose next path segment is an object id (or name).
const COLLECTIONS: &[&str] = &[
    "regions",
    "zones",
    "profiles",
    "operating_systems",
    "images",
    "vpcs",
    "subnets",
    "keys",
    "instances",
];

/// `GET /v1/instances/0717_x/actions` → `GET /v1/instances/{id}/actions`.
pub fn route_of(method: &str, path: &str) -> String {
    let mut out = Vec::new();
    let mut after_collection = false;
    for seg in path.split('/') {
        if after_collection && !seg.is_empty() {
            out.push("{id}");
            after_collection = false;
            continue;
        }
        after_collection = COLLECTIONS.contains(&seg);
        out.push(seg);
    }
    format!("{method} {}", out.join("/"))
}

/// Whether a request is one of the emulated services' (IAM, VPC, Global Tagging and
/// Search), not test control or a certificate download.
pub fn counted(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/v3/") || path == "/identity/token"
}

#[derive(Debug, Default)]
pub struct RequestCounters {
    by_route: Mutex<BTreeMap<String, u64>>,
}

impl RequestCounters {
    pub fn record(&self, method: &str, path: &str) {
        if !counted(path) {
            return;
        }
        let mut m = self.by_route.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(route_of(method, path)).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.by_route
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn clear(&self) {
        self.by_route
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_placeholders() {
        assert_eq!(
            route_of("POST", "/v1/instances/0717_ab/actions"),
            "POST /v1/instances/{id}/actions"
        );
        assert_eq!(route_of("GET", "/v1/instances"), "GET /v1/instances");
        assert_eq!(
            route_of("GET", "/v1/instance/profiles/bz2e-1x4"),
            "GET /v1/instance/profiles/{id}"
        );
        assert_eq!(
            route_of("GET", "/v1/regions/us-south/zones/us-south-1"),
            "GET /v1/regions/{id}/zones/{id}"
        );
        assert!(counted("/identity/token"));
        assert!(!counted("/_mock/faults"));
    }

    #[test]
    fn records_only_service_requests() {
        let c = RequestCounters::default();
        c.record("GET", "/v1/instances/a");
        c.record("GET", "/v1/instances/b");
        c.record("PUT", "/_mock/faults");
        let s = c.snapshot();
        assert_eq!(s.get("GET /v1/instances/{id}"), Some(&2));
        assert_eq!(s.len(), 1);
        c.clear();
        assert!(c.snapshot().is_empty());
    }
}
