//! The cloud client's error type: API errors keep the VPC/IAM `code`, `message` and `trace`
//! so a diagnostic can show them; nothing here ever holds a token or an API key.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// One entry of a VPC error body's `errors` array.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ApiErrorItem {
    pub code: String,
    pub message: String,
    pub more_info: Option<String>,
    pub target: Option<ErrorTarget>,
}

/// The request field, parameter or header an error is about.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ErrorTarget {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A non-success HTTP answer from the VPC API or IAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// e.g. `GET /instances/0717_x` (the VPC path without the `/v1` base or query).
    pub request: String,
    pub status: u16,
    /// Empty when the body was not the documented error shape (e.g. a bare 401 or a proxy page).
    pub errors: Vec<ApiErrorItem>,
    /// The `trace` id IBM support asks for.
    pub trace: Option<String>,
}

impl ApiError {
    /// A refusal of a name another object already has. IBM's VPC API answers HTTP 400
    /// `validation_unique_failed` with `target` `{"name": "name", "type": "field"}` (IBM's
    /// VPC error-code reference, "validation_unique_failed: The field supplied must be
    /// unique", and the 400 bodies IBM's docs show for `ibm_is_vpc` with a taken name); a
    /// 409 `instance_name_exists` is accepted too, as older emulators and proxies answer.
    pub fn refuses_a_taken_name(&self) -> bool {
        let Some(first) = self.errors.first() else {
            return false;
        };
        let about_the_name = first.target.as_ref().is_none_or(|t| t.name == "name");
        match (self.status, first.code.as_str()) {
            (400, "validation_unique_failed") => about_the_name,
            (409, code) => NAME_TAKEN_CODES.contains(&code),
            _ => false,
        }
    }

    /// The first error's `code` (what the SDKs read), if any.
    pub fn code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str())
    }

    /// Decodes an error body: the VPC shape (`errors[]`, `trace`) or IAM's
    /// (`errorCode`/`errorMessage`, or `code`/`message`), else an empty list.
    pub(crate) fn from_body(request: String, status: u16, body: &[u8]) -> ApiError {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Body {
            errors: Vec<ApiErrorItem>,
            trace: Option<String>,
            #[serde(rename = "errorCode")]
            error_code: Option<String>,
            #[serde(rename = "errorMessage")]
            error_message: Option<String>,
            code: Option<serde_json::Value>,
            message: Option<String>,
        }
        let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
        let mut errors = parsed.errors;
        if errors.is_empty() {
            let code = parsed.error_code.or(match parsed.code {
                Some(serde_json::Value::String(s)) => Some(s),
                _ => None,
            });
            let message = parsed.error_message.or(parsed.message);
            if code.is_some() || message.is_some() {
                errors.push(ApiErrorItem {
                    code: code.unwrap_or_default(),
                    message: message.unwrap_or_default(),
                    ..Default::default()
                });
            }
        }
        ApiError {
            request,
            status,
            errors,
            trace: parsed.trace,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered HTTP {}", self.request, self.status)?;
        if self.errors.is_empty() {
            write!(f, " with no error details")?;
        }
        for (i, e) in self.errors.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            write!(f, "{sep}{}: {}", e.code, e.message)?;
            if let Some(t) = &e.target {
                if !t.name.is_empty() {
                    write!(f, " ({} `{}`)", t.kind, t.name)?;
                }
            }
        }
        if let Some(trace) = &self.trace {
            write!(f, " (trace {trace})")?;
        }
        Ok(())
    }
}

/// Everything a cloud call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The VPC API answered with an error status (after any retries).
    #[error("VPC API: {0}")]
    Api(ApiError),
    /// IAM refused to issue a token (wrong API key, IAM outage after retries).
    #[error("IAM token request failed: {0}")]
    Iam(ApiError),
    /// No answer at all (connection refused, TLS, timeout), after any retries.
    #[error("{request} failed: {message}")]
    Transport { request: String, message: String },
    /// An answer that is not what the API documents.
    #[error("{request}: unexpected response body: {message}")]
    Decode { request: String, message: String },
    /// The operation's deadline passed while waiting for `what`.
    #[error("timed out after {}s waiting for {what}", waited.as_secs())]
    Timeout { what: String, waited: Duration },
    /// Terraform asked the provider to stop (Ctrl-C) while waiting for `what`.
    #[error("interrupted while waiting for {what}")]
    Cancelled { what: String },
    /// The instance went to `failed`.
    #[error("instance {id} failed{}", reasons_suffix(reasons))]
    InstanceFailed {
        id: String,
        reasons: Vec<crate::cloud::models::StatusReason>,
    },
    /// Bad client settings (an endpoint that is not a URL, an empty API key).
    #[error("{0}")]
    Config(String),
    /// The serial console could not be read.
    #[error("reading the serial console of instance {id}: {message}")]
    Console { id: String, message: String },
    /// A create was refused because another instance has the name (VPC 409
    /// `instance_name_exists` / `validation_unique_failed`); `holder` is that instance, when
    /// a look-up by name found it.
    #[error("{refusal}{}", holder_suffix(holder.as_deref()))]
    NameTaken {
        name: String,
        holder: Option<Box<crate::cloud::models::Instance>>,
        refusal: ApiError,
    },
}

fn holder_suffix(holder: Option<&crate::cloud::models::Instance>) -> String {
    match holder {
        Some(i) => format!(
            "; the name is held by instance {} (status `{}`, created {})",
            i.id,
            i.status,
            i.created_at.as_deref().unwrap_or("at an unknown time")
        ),
        None => String::new(),
    }
}

/// The VPC error codes of a create refused because the name is already used.
pub const NAME_TAKEN_CODES: &[&str] = &["instance_name_exists", "validation_unique_failed"];

fn reasons_suffix(reasons: &[crate::cloud::models::StatusReason]) -> String {
    if reasons.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = reasons
        .iter()
        .map(|r| format!("{}: {}", r.code, r.message))
        .collect();
    format!(": {}", parts.join("; "))
}

impl Error {
    /// The HTTP status of an API or IAM error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) | Error::Iam(e) => Some(e.status),
            Error::NameTaken { refusal, .. } => Some(refusal.status),
            _ => None,
        }
    }

    /// The API's error code (`not_found`, `invalid_state`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(e) | Error::Iam(e) => e.code(),
            Error::NameTaken { refusal, .. } => refusal.code(),
            _ => None,
        }
    }

    /// A VPC 404: the object does not exist (any more).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api(e) if e.status == 404)
    }

    /// A VPC 409: the object is not in a state that allows the request.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Api(e) if e.status == 409)
    }

    /// A VPC refusal (400 `validation_unique_failed`, or a 409) of a name that another
    /// object already has.
    pub fn is_name_taken(&self) -> bool {
        match self {
            Error::NameTaken { .. } => true,
            Error::Api(e) => e.refuses_a_taken_name(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpc_error_bodies_keep_code_message_and_trace() {
        let body = br#"{"errors":[{"code":"invalid_state","message":"An action was requested on a resource which is not supported at the current status","more_info":"https://x","target":{"name":"type","type":"field","value":"start"}}],"status_code":409,"trace":"7a1b","extra":1}"#;
        let e = ApiError::from_body("POST /instances/i/actions".into(), 409, body);
        assert_eq!(e.code(), Some("invalid_state"));
        assert_eq!(e.trace.as_deref(), Some("7a1b"));
        let text = Error::Api(e).to_string();
        assert!(
            text.contains("POST /instances/i/actions answered HTTP 409"),
            "{text}"
        );
        assert!(
            text.contains("invalid_state: An action was requested"),
            "{text}"
        );
        assert!(text.contains("(field `type`)"), "{text}");
        assert!(text.contains("trace 7a1b"), "{text}");
    }

    #[test]
    fn iam_and_empty_bodies_decode() {
        let e = ApiError::from_body(
            "POST /identity/token".into(),
            400,
            br#"{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found.","context":{}}"#,
        );
        assert_eq!(e.code(), Some("BXNIM0415E"));
        assert!(e
            .to_string()
            .contains("Provided API key could not be found."));
        let bare = ApiError::from_body("GET /vpcs".into(), 401, b"");
        assert!(bare.errors.is_empty());
        assert_eq!(
            bare.to_string(),
            "GET /vpcs answered HTTP 401 with no error details"
        );
        let html = ApiError::from_body("GET /vpcs".into(), 502, b"<html>bad gateway</html>");
        assert_eq!(html.status, 502);
        assert!(html.errors.is_empty());
    }
}
