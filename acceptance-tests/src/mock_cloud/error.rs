//! Error bodies in the shapes the real services use: the VPC API's
//! `{"errors":[{code,message,more_info,target}],"trace","status_code"}` and IAM's
//! `{"errorCode","errorMessage","context":{..}}`, so clients exercise their real error paths.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ids;

/// Where in the request the problem is (`target` in the VPC error body).
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    pub value: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub enum TargetKind {
    Field,
    Parameter,
    Header,
}

impl TargetKind {
    fn as_str(self) -> &'static str {
        match self {
            TargetKind::Field => "field",
            TargetKind::Parameter => "parameter",
            TargetKind::Header => "header",
        }
    }
}

/// A VPC API error response.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub target: Option<Target>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            target: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn field(mut self, name: &str) -> Self {
        self.target = Some(Target {
            name: name.to_string(),
            kind: TargetKind::Field,
            value: None,
        });
        self
    }

    pub fn parameter(mut self, name: &str, value: Option<&str>) -> Self {
        self.target = Some(Target {
            name: name.to_string(),
            kind: TargetKind::Parameter,
            value: value.map(str::to_string),
        });
        self
    }

    pub fn header(mut self, name: &str) -> Self {
        self.target = Some(Target {
            name: name.to_string(),
            kind: TargetKind::Header,
            value: None,
        });
        self
    }

    /// A name another object of the kind already has in the region: IBM's VPC API answers
    /// HTTP 400 `validation_unique_failed` ("Provided Name (x) is not unique") with
    /// `target` `{"name": "name", "type": "field", "value": x}`, as in the error bodies IBM's
    /// docs show (Schematics/VPC troubleshooting, "Provided name is not unique") and IBM's VPC
    /// error-code reference ("validation_unique_failed: The field supplied must be unique").
    pub fn name_not_unique(name: &str) -> Self {
        let mut e = Self::bad_request(
            "validation_unique_failed",
            format!("Provided Name ({name}) is not unique"),
        );
        e.target = Some(Target {
            name: "name".into(),
            kind: TargetKind::Field,
            value: Some(name.to_string()),
        });
        e
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found: {id}"),
        )
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_state", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let trace = ids::uuid();
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://cloud.ibm.com/docs/vpc?topic=vpc-rias-error-messages#{}", self.code),
        });
        if let Some(t) = &self.target {
            let mut target = json!({"name": t.name, "type": t.kind.as_str()});
            if let Some(v) = &t.value {
                target["value"] = json!(v);
            }
            error["target"] = target;
        }
        let body = json!({
            "errors": [error],
            "trace": trace,
            "status_code": self.status.as_u16(),
        });
        if self.status.is_client_error() || self.status.is_server_error() {
            tracing::info!(status = self.status.as_u16(), code = self.code, %trace, "vpc error");
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        resp
    }
}

/// An IAM token-endpoint error (HTTP 400 for a bad key, as the real IAM answers).
#[derive(Clone, Debug)]
pub struct IamError {
    pub status: StatusCode,
    /// IAM's `BXNIM....E` codes; the exact values are unconfirmed (fact sheet §2).
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for IamError {
    fn into_response(self) -> Response {
        let request_id = ids::uuid();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = json!({
            "errorCode": self.code,
            "errorMessage": self.message,
            "errorDetails": self.message,
            "context": {
                "requestId": request_id,
                "requestType": "incoming.Identity_Token",
                "userAgent": "",
                "url": "/identity/token",
                "instanceId": "iamid-mock-cloud",
                "threadId": "1",
                "host": "mock-cloud",
                "startTime": now.to_string(),
                "endTime": now.to_string(),
                "elapsedTime": "0",
                "locale": "en_US",
                "clusterName": "mock-cloud"
            }
        });
        (self.status, axum::Json(body)).into_response()
    }
}
