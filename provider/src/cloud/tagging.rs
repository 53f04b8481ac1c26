//! User tags through IBM's Global Tagging API v3 (the VPC API has no tags of its own):
//! attach and detach by CRN (`POST /v3/tags/attach|detach?tag_type=user`) and the list of a
//! resource's tags (`GET /v3/tags?attached_to=CRN&tag_type=user`, paged by
//! `offset`/`limit`). Same token, retries and error decoding as every VPC call.
//!
//! Routes, bodies (`resources[].resource_id`, `tag_names`), the `results[].is_error` answer,
//! the list's `items[].name` / `total_count`, the public endpoint and its override
//! `IBMCLOUD_GT_API_ENDPOINT` are as in IBM's own clients: the platform-services SDKs'
//! `GlobalTaggingV1` and the config of IBM's Terraform provider.

use std::collections::BTreeSet;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::client::{decode, Body, Client, Service};
use super::error::{ApiError, ApiErrorItem, Error};

/// Tags asked for per list page (the API allows up to 1000).
const PAGE: usize = 100;

#[derive(Serialize)]
struct ResourceRef<'a> {
    resource_id: &'a str,
}

#[derive(Serialize)]
struct TagRequest<'a> {
    resources: [ResourceRef<'a>; 1],
    tag_names: &'a [String],
}

/// The answer of attach and detach: one result per resource, 200 even when one failed.
#[derive(Deserialize, Default)]
#[serde(default)]
struct TagResults {
    results: Vec<TagResult>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TagResult {
    resource_id: String,
    is_error: bool,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TagPage {
    total_count: Option<u64>,
    items: Vec<TagItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TagItem {
    name: String,
}

/// What must be attached and detached to go from `current` to `wanted`.
pub fn tag_changes(
    current: &BTreeSet<String>,
    wanted: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    let attach = wanted.difference(current).cloned().collect();
    let detach = current.difference(wanted).cloned().collect();
    (attach, detach)
}

impl Client {
    /// Attaches user tags to the resource `crn` (no call when `tags` is empty).
    pub async fn attach_tags(&self, crn: &str, tags: &[String]) -> Result<(), Error> {
        self.tag_operation("/v3/tags/attach", crn, tags).await
    }

    /// Detaches user tags from the resource `crn` (no call when `tags` is empty).
    pub async fn detach_tags(&self, crn: &str, tags: &[String]) -> Result<(), Error> {
        self.tag_operation("/v3/tags/detach", crn, tags).await
    }

    /// The user tags attached to the resource `crn`, every page.
    pub async fn list_tags(&self, crn: &str) -> Result<BTreeSet<String>, Error> {
        let label = "GET /v3/tags";
        collect_offset_pages(|offset| async move {
            let offset = offset.to_string();
            let limit = PAGE.to_string();
            let query = [
                ("attached_to", crn),
                ("tag_type", "user"),
                ("offset", offset.as_str()),
                ("limit", limit.as_str()),
            ];
            let resp = self
                .call_service(
                    Service::Tagging,
                    reqwest::Method::GET,
                    "/v3/tags",
                    &query,
                    Body::None,
                )
                .await?;
            decode::<TagPage>(label, &resp.body)
        })
        .await
    }

    async fn tag_operation(&self, path: &str, crn: &str, tags: &[String]) -> Result<(), Error> {
        if tags.is_empty() {
            return Ok(());
        }
        let label = format!("POST {path}");
        let body = serde_json::to_vec(&TagRequest {
            resources: [ResourceRef { resource_id: crn }],
            tag_names: tags,
        })
        .map_err(|e| Error::Decode {
            request: label.clone(),
            message: format!("encoding the request: {e}"),
        })?;
        let resp = self
            .call_service(
                Service::Tagging,
                reqwest::Method::POST,
                path,
                &[("tag_type", "user")],
                Body::Json(body),
            )
            .await?;
        let results: TagResults = decode(&label, &resp.body)?;
        check_results(label, &results)
    }
}

/// A 200 answer can still report a failure for the resource: that is an error too.
fn check_results(label: String, results: &TagResults) -> Result<(), Error> {
    let failed: Vec<ApiErrorItem> = results
        .results
        .iter()
        .filter(|r| r.is_error)
        .map(|r| ApiErrorItem {
            code: "tagging_failed".into(),
            message: format!(
                "{}: {}",
                r.resource_id,
                r.message
                    .as_deref()
                    .unwrap_or("the tagging service reported an error")
            ),
            ..Default::default()
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Api(ApiError {
            request: label,
            status: 200,
            errors: failed,
            trace: None,
        }))
    }
}

/// Pages through `GET /v3/tags`: `fetch(offset)` returns one page; stops at `total_count`
/// or at the first short page (a server that omits the count).
async fn collect_offset_pages<F, Fut>(mut fetch: F) -> Result<BTreeSet<String>, Error>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<TagPage, Error>>,
{
    let mut tags = BTreeSet::new();
    let mut offset = 0usize;
    loop {
        let page = fetch(offset).await?;
        let got = page.items.len();
        tags.extend(page.items.into_iter().map(|i| i.name));
        offset += got;
        let done = match page.total_count {
            Some(total) => offset as u64 >= total,
            None => got < PAGE,
        };
        // An empty page ends it even when the count promises more (no endless loop).
        if done || got == 0 {
            return Ok(tags);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn changes_attach_the_new_and_detach_the_removed() {
        let (attach, detach) = tag_changes(&set(&["a", "b"]), &set(&["b", "c"]));
        assert_eq!(attach, ["c"]);
        assert_eq!(detach, ["a"]);
        let (attach, detach) = tag_changes(&set(&["a"]), &set(&["a"]));
        assert!(attach.is_empty() && detach.is_empty());
    }

    #[test]
    fn request_body_is_the_documented_shape() {
        let tags = vec!["env:prod".to_string()];
        let body = serde_json::to_value(TagRequest {
            resources: [ResourceRef {
                resource_id: "crn:v1:x",
            }],
            tag_names: &tags,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"resources": [{"resource_id": "crn:v1:x"}], "tag_names": ["env:prod"]})
        );
    }

    #[test]
    fn a_result_marked_as_error_fails() {
        let ok: TagResults =
            serde_json::from_str(r#"{"results":[{"resource_id":"crn:v1:x","is_error":false}]}"#)
                .unwrap();
        assert!(check_results("POST /v3/tags/attach".into(), &ok).is_ok());
        let bad: TagResults = serde_json::from_str(
            r#"{"results":[{"resource_id":"crn:v1:x","is_error":true,"message":"no such resource"}]}"#,
        )
        .unwrap();
        let e = check_results("POST /v3/tags/attach".into(), &bad).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("crn:v1:x: no such resource"), "{text}");
        assert!(text.contains("POST /v3/tags/attach"), "{text}");
    }

    fn page(names: std::ops::Range<usize>, total: Option<u64>) -> TagPage {
        TagPage {
            total_count: total,
            items: names
                .map(|n| TagItem {
                    name: format!("t{n:03}"),
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn paging_walks_offsets_to_the_total() {
        let asked = Mutex::new(Vec::new());
        let tags = collect_offset_pages(|offset| {
            asked.lock().unwrap().push(offset);
            let p = page(offset..(offset + PAGE).min(230), Some(230));
            async move { Ok(p) }
        })
        .await
        .unwrap();
        assert_eq!(tags.len(), 230);
        assert!(tags.contains("t229") && tags.contains("t000"));
        assert_eq!(*asked.lock().unwrap(), [0, 100, 200]);
    }

    #[tokio::test]
    async fn paging_stops_on_a_short_or_empty_page() {
        let asked = Mutex::new(Vec::new());
        let tags = collect_offset_pages(|offset| {
            asked.lock().unwrap().push(offset);
            let p = page(offset..(offset + PAGE).min(150), None);
            async move { Ok(p) }
        })
        .await
        .unwrap();
        assert_eq!(tags.len(), 150);
        assert_eq!(*asked.lock().unwrap(), [0, 100]);
        // A count that promises more than the server gives does not loop forever.
        let tags = collect_offset_pages(|offset| {
            let p = if offset == 0 {
                page(0..PAGE, Some(1000))
            } else {
                page(0..0, Some(1000))
            };
            async move { Ok(p) }
        })
        .await
        .unwrap();
        assert_eq!(tags.len(), PAGE);
    }
}
