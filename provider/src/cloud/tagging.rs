//! User tags through IBM's Global Tagging API v3 (the VPC API has no tags of its own):
//! attach and detach by CRN (`POST /v3/tags/attach|detach?tag_type=user`) and the list of a
//! resource's tags (`GET /v3/tags?attached_to=CRN&tag_type=user`, paged by
//! `offset`/`limit`). Same token, retries and error decoding as every VPC call.
//!
//! Routes, bodies (`resources[].resource_id`, `tag_names`), the `results[].is_error` answer,
//! the list's `items[].name` / `total_count`, the public endpoint and its override
//! `IBMCLOUD_GT_API_ENDPOINT` are as in IBM's own clients: the platform-services SDKs'
//! `GlobalTaggingV1` and the config of IBM's Terraform provider.
//!
//! As IBM Cloud does, with IBM's Terraform provider (ibm/flex/structures.go) as the model:
//! - tags are case-insensitive: the service stores them lowercased and IBM's provider
//!   compares them lowercased (`ResourceIBMVPCHash`), so changes are computed on
//!   [`normalize_tag`] and a refresh keeps the configuration's spelling of a tag the
//!   service returns in lower case ([`keep_spelling`]);
//! - attached tags show in reads after a delay: after an attach the client waits, bounded
//!   by 30 s as IBM's `WaitForTagsAvailable`, until they are visible ([`Client::attach_tags_and_wait`]);
//! - tag reads go to Global Search "due to rate limit" (`GetTagsUsingCRN`), and here one
//!   search call serves every refresh running at the same time ([`Client::read_tags`]),
//!   so a fleet's refresh costs a handful of calls, not one Global Tagging call per server.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// A tag as IBM Cloud compares it: trimmed, lower case.
pub fn normalize_tag(tag: &str) -> String {
    tag.trim().to_lowercase()
}

fn normalized(tags: &BTreeSet<String>) -> BTreeSet<String> {
    tags.iter().map(|t| normalize_tag(t)).collect()
}

/// Whether two tag sets are the same to IBM Cloud (case-insensitively).
pub fn same_tags(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    normalized(a) == normalized(b)
}

/// What must be attached and detached to go from `current` to `wanted`, compared
/// case-insensitively (`Env:Prod` is `env:prod`: nothing to do).
pub fn tag_changes(
    current: &BTreeSet<String>,
    wanted: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    let (have, want) = (normalized(current), normalized(wanted));
    let attach = wanted
        .iter()
        .filter(|t| !have.contains(&normalize_tag(t)))
        .cloned()
        .collect();
    let detach = current
        .iter()
        .filter(|t| !want.contains(&normalize_tag(t)))
        .cloned()
        .collect();
    (attach, detach)
}

/// The tags read from the service (`remote`, lower case) written as `known` spells them
/// where they match case-insensitively, so `Env:Prod` in the configuration stays
/// `Env:Prod` in the state while the service holds `env:prod`.
pub fn keep_spelling(
    known: Option<&BTreeSet<String>>,
    remote: &BTreeSet<String>,
) -> BTreeSet<String> {
    let by_norm: HashMap<String, &String> = known
        .into_iter()
        .flatten()
        .map(|t| (normalize_tag(t), t))
        .collect();
    remote
        .iter()
        .map(|t| {
            by_norm
                .get(&normalize_tag(t))
                .map_or_else(|| t.clone(), |k| (*k).clone())
        })
        .collect()
}

/// How long an attach waits for its tags to show in reads (IBM's `WaitForTagsAvailable`).
const TAG_VISIBILITY_WAIT: Duration = Duration::from_secs(30);
/// How often that wait looks.
const TAG_VISIBILITY_POLL: Duration = Duration::from_secs(1);
/// How long the first tag read of a batch waits for others to join it.
const BATCH_WINDOW: Duration = Duration::from_millis(150);
/// How long a read waits for its batch's search before reading on its own.
const FOLLOWER_WAIT: Duration = Duration::from_secs(60);
/// CRNs per Global Search query (keeps the Lucene query well under any size limit).
const BATCH_MAX: usize = 50;

/// The Global Search base next to a Global Tagging base: IBM serves them on sibling hosts
/// (`tags.global-search-tagging.cloud.ibm.com` and `api.global-search-tagging.cloud.ibm.com`,
/// `.private.` ones alike: platform-services SDKs' `GlobalTaggingV1` and `GlobalSearchV2`
/// default URLs); any other base (a proxy, an emulator) serves both.
pub fn global_search_base(tagging: &str) -> String {
    let (scheme, rest) = tagging.split_once("://").unwrap_or(("https", tagging));
    match rest.strip_prefix("tags.") {
        Some(host) if host.contains("global-search-tagging.") => format!("{scheme}://api.{host}"),
        _ => tagging.to_string(),
    }
}

/// Tag reads waiting to be served together (shared by a client's clones).
#[derive(Default)]
pub struct TagReads {
    open: Mutex<Option<Arc<Batch>>>,
}

/// User tags by resource CRN.
type TagsByCrn = HashMap<String, BTreeSet<String>>;

/// One batch: the CRNs asked for, and its answer once the search ran (`None` inside when the
/// search failed: each reader then asks Global Tagging on its own).
// Three states, each meaningful: not yet answered, the search failed, the search found.
#[allow(clippy::option_option)]
struct Batch {
    crns: Mutex<Vec<String>>,
    answer: tokio::sync::watch::Sender<Option<Option<Arc<TagsByCrn>>>>,
}

#[derive(Serialize)]
struct SearchRequest<'a> {
    query: &'a str,
    fields: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    search_cursor: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchPage {
    search_cursor: Option<String>,
    items: Vec<SearchItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchItem {
    crn: String,
    tags: Vec<String>,
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

    /// Attaches `tags` and waits (at most 30 s, as IBM's provider) until reads show them:
    /// IBM's tags are eventually consistent, and a refresh right after the apply must not
    /// see them missing. A wait that runs out is logged, not an error (the tags are attached).
    pub async fn attach_tags_and_wait(&self, crn: &str, tags: &[String]) -> Result<(), Error> {
        if tags.is_empty() {
            return Ok(());
        }
        self.attach_tags(crn, tags).await?;
        let wanted: BTreeSet<String> = tags.iter().map(|t| normalize_tag(t)).collect();
        let end = tokio::time::Instant::now() + TAG_VISIBILITY_WAIT;
        let end = self.deadline.map_or(end, |d| d.min(end));
        loop {
            let seen = normalized(&self.list_tags(crn).await?);
            if wanted.is_subset(&seen) {
                return Ok(());
            }
            if tokio::time::Instant::now() + TAG_VISIBILITY_POLL > end {
                tracing::warn!(%crn, "attached tags are not visible yet; going on");
                return Ok(());
            }
            tokio::time::sleep(TAG_VISIBILITY_POLL).await;
        }
    }

    /// The user tags of `crn` for a refresh: concurrent calls (a fleet's refresh) are
    /// served by one Global Search call per 50 resources; a resource the search does not
    /// return (not indexed yet) or a failed search falls back to Global Tagging's list.
    pub async fn read_tags(&self, crn: &str) -> Result<BTreeSet<String>, Error> {
        let (batch, leader) = {
            let mut open = self
                .inner
                .tag_reads
                .open
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let batch = open
                .get_or_insert_with(|| {
                    Arc::new(Batch {
                        crns: Mutex::new(Vec::new()),
                        answer: tokio::sync::watch::channel(None).0,
                    })
                })
                .clone();
            let (leader, full) = {
                let mut crns = batch.crns.lock().unwrap_or_else(|e| e.into_inner());
                crns.push(crn.to_string());
                (crns.len() == 1, crns.len() >= BATCH_MAX)
            };
            if full {
                *open = None;
            }
            (batch, leader)
        };
        let answer = if leader {
            tokio::time::sleep(BATCH_WINDOW).await;
            {
                let mut open = self
                    .inner
                    .tag_reads
                    .open
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if open.as_ref().is_some_and(|b| Arc::ptr_eq(b, &batch)) {
                    *open = None;
                }
            }
            let crns = batch.crns.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let found = match self.search_tags(&crns).await {
                Ok(found) => Some(Arc::new(found)),
                Err(e) => {
                    tracing::warn!(error = %e, "Global Search tag read failed; reading each resource's tags");
                    None
                }
            };
            batch.answer.send_replace(Some(found.clone()));
            found
        } else {
            let mut rx = batch.answer.subscribe();
            // Bounded: a leader whose call was cancelled never answers.
            let waited = tokio::time::timeout(FOLLOWER_WAIT, rx.wait_for(Option::is_some)).await;
            // Bound to a name so the borrow of `rx` ends before `rx` does.
            #[allow(clippy::let_and_return)]
            let answer = match waited {
                Ok(Ok(v)) => v.clone().flatten(),
                _ => None,
            };
            answer
        };
        match answer.as_ref().and_then(|m| m.get(crn)) {
            Some(tags) => Ok(tags.clone()),
            None => self.list_tags(crn).await,
        }
    }

    /// One Global Search scan (`POST /v3/resources/search`, IBM/platform-services-go-sdk
    /// `globalsearchv2.Search`) for the user tags of `crns`, as IBM's provider queries it
    /// (`crn:"<CRN>"`, here joined with `OR`; `fields: ["tags"]`), following
    /// `search_cursor` until every CRN was seen or a page comes back empty.
    async fn search_tags(
        &self,
        crns: &[String],
    ) -> Result<HashMap<String, BTreeSet<String>>, Error> {
        let label = "POST /v3/resources/search";
        let query = crns
            .iter()
            .map(|c| format!("crn:\"{c}\""))
            .collect::<Vec<_>>()
            .join(" OR ");
        let limit = crns.len().clamp(1, 1000).to_string();
        let mut found = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let request = SearchRequest {
                query: &query,
                fields: ["tags"],
                search_cursor: cursor.as_deref(),
            };
            let resp = self
                .post_to(
                    Service::Search,
                    "/v3/resources/search",
                    &[("limit", limit.as_str())],
                    &request,
                )
                .await?;
            let page: SearchPage = decode(label, &resp.body)?;
            if page.items.is_empty() {
                return Ok(found);
            }
            for item in page.items {
                found.insert(item.crn, item.tags.into_iter().collect());
            }
            if crns.iter().all(|c| found.contains_key(c)) || page.search_cursor.is_none() {
                return Ok(found);
            }
            cursor = page.search_cursor;
        }
    }

    /// `POST path` with the JSON `body` to the Global Tagging or Search service.
    async fn post_to<T: Serialize>(
        &self,
        service: Service,
        path: &str,
        query: &[(&str, &str)],
        body: &T,
    ) -> Result<super::retry::RawResponse, Error> {
        let body = serde_json::to_vec(body).map_err(|e| Error::Decode {
            request: format!("POST {path}"),
            message: format!("encoding the request: {e}"),
        })?;
        self.call_service(
            service,
            reqwest::Method::POST,
            path,
            query,
            Body::Json(body),
        )
        .await
    }

    async fn tag_operation(&self, path: &str, crn: &str, tags: &[String]) -> Result<(), Error> {
        if tags.is_empty() {
            return Ok(());
        }
        let label = format!("POST {path}");
        let request = TagRequest {
            resources: [ResourceRef { resource_id: crn }],
            tag_names: tags,
        };
        let resp = self
            .post_to(Service::Tagging, path, &[("tag_type", "user")], &request)
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
    fn tags_compare_case_insensitively_and_keep_the_configured_spelling() {
        let (attach, detach) = tag_changes(&set(&["env:prod"]), &set(&["Env:Prod"]));
        assert!(attach.is_empty() && detach.is_empty());
        let (attach, detach) = tag_changes(&set(&["env:prod", "old"]), &set(&["Env:Prod", "New"]));
        assert_eq!(attach, ["New"]);
        assert_eq!(detach, ["old"]);
        let kept = keep_spelling(Some(&set(&["Env:Prod"])), &set(&["env:prod", "extra"]));
        assert_eq!(kept, set(&["Env:Prod", "extra"]));
        assert!(same_tags(&set(&["A"]), &set(&["a"])));
    }

    #[test]
    fn global_search_is_next_to_global_tagging() {
        assert_eq!(
            global_search_base("https://tags.global-search-tagging.cloud.ibm.com"),
            "https://api.global-search-tagging.cloud.ibm.com"
        );
        assert_eq!(
            global_search_base("https://tags.private.global-search-tagging.cloud.ibm.com"),
            "https://api.private.global-search-tagging.cloud.ibm.com"
        );
        assert_eq!(
            global_search_base("http://127.0.0.1:9"),
            "http://127.0.0.1:9"
        );
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
