//! `tracing` output as the hclog JSON lines Terraform parses from a plugin's stderr.
//!
//! Terraform reads each stderr line of a plugin; a line that is a JSON object with `@level`
//! and `@message` is re-logged at that level under the provider's name, anything else at
//! debug. So every event becomes one line such as
//! `{"@level":"debug","@message":"connection accepted","@module":"provider.runtime.server","@timestamp":"2026-11-28T05:30:00.123456Z","peer":"unix"}`.
//!
//! **Level.** `TF_LOG_PROVIDER`, else `TF_LOG`: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`
//! (any case), `JSON` (= trace, as in Terraform), `OFF`. Unset, empty or unrecognised means
//! *off*: Terraform itself discards plugin stderr unless one of those variables enables its
//! log, so formatting lines nobody reads would only cost start-up time. Events from other
//! crates (h2, hyper, tonic) are capped at INFO: at DEBUG/TRACE they log every HTTP/2 frame,
//! which would drown the provider's own lines in `TF_LOG=TRACE` output.
//!
//! **Never block.** Lines go through a bounded queue to one writer thread; when the queue is
//! full (stderr not drained) lines are dropped and counted, and a later line reports how many.
//! [`LogGuard`] drains the queue, with a deadline, when the process is about to exit.
//!
//! **Secrets.** Never log private keys, passwords, API keys, tokens or plaintext contract
//! sections, not even at trace. Wrap anything that could hold one in [`Sensitive`] before it
//! reaches a log macro or an error message (`tracing::debug!(api_key = ?Sensitive::new(&k))`):
//! its `Debug` and `Display` print `<sensitive>`.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use time::macros::format_description;
use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// Lines waiting for the writer thread; beyond this, new lines are dropped.
const QUEUE_LINES: usize = 4096;

/// The most verbose level passed through for events from other crates.
const DEPENDENCY_LEVEL: Level = Level::INFO;

/// How long [`LogGuard`] waits for queued lines to reach stderr at exit.
const FLUSH_DEADLINE: Duration = Duration::from_millis(250);

/// A value that must never appear in logs or error text: `Debug` and `Display` print
/// `<sensitive>`. The wrapped value stays reachable through [`Sensitive::expose`], which makes
/// every place that reads the secret explicit and greppable.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; only for code that needs the value, never for formatting.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<sensitive>")
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<sensitive>")
    }
}

/// The level a plugin should log at, from `TF_LOG_PROVIDER` else `TF_LOG`; `None` = off.
///
/// `TF_LOG_PROVIDER` wins whenever it is set to something non-empty, even `OFF`, so a user can
/// silence the provider while debugging Terraform itself.
pub fn level_from_env(get: impl Fn(&str) -> Option<OsString>) -> Option<Level> {
    let setting = ["TF_LOG_PROVIDER", "TF_LOG"]
        .into_iter()
        .filter_map(get)
        .find(|value| !value.is_empty())?;
    let setting = setting.to_str()?.trim().to_ascii_uppercase();
    match setting.as_str() {
        "TRACE" | "JSON" => Some(Level::TRACE),
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARN" => Some(Level::WARN),
        "ERROR" => Some(Level::ERROR),
        _ => None,
    }
}

/// Installs the hclog-JSON subscriber as the global default when the environment enables
/// logging. Call once, early; later calls (or another global subscriber) are left alone.
/// Keep the guard alive until the process is about to exit.
pub fn init() -> LogGuard {
    let Some(level) = level_from_env(|name| std::env::var_os(name)) else {
        return LogGuard { progress: None };
    };
    let (layer, rx) = HclogLayer::new(level, QUEUE_LINES);
    let progress = Arc::clone(&layer.progress);
    let writer_progress = Arc::clone(&progress);
    let spawned = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_lines(rx, std::io::stderr(), &writer_progress));
    if spawned.is_err() {
        // Without a writer thread the queue would only fill up; logging stays off.
        return LogGuard { progress: None };
    }
    if tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .is_err()
    {
        return LogGuard { progress: None };
    }
    LogGuard {
        progress: Some(progress),
    }
}

/// Drains queued log lines to stderr (bounded by a deadline) when dropped.
#[must_use = "dropping the guard flushes the log; keep it until exit"]
#[derive(Debug)]
pub struct LogGuard {
    progress: Option<Arc<Progress>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(progress) = self.progress.take() {
            progress.wait_written(FLUSH_DEADLINE);
        }
    }
}

/// Counts lines queued by the layer and written by the writer, so exit can wait for the
/// writer to catch up without another message type on the queue.
#[derive(Debug, Default)]
struct Progress {
    queued: AtomicU64,
    written: AtomicU64,
}

impl Progress {
    /// Waits until every line queued before the call is written, at most `deadline`, so a
    /// stuck stderr cannot hold up exit. True when the writer caught up.
    fn wait_written(&self, deadline: Duration) -> bool {
        let target = self.queued.load(Ordering::Acquire);
        let until = Instant::now() + deadline;
        while self.written.load(Ordering::Acquire) < target {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

fn write_lines(rx: Receiver<Vec<u8>>, mut out: impl Write, progress: &Progress) {
    for line in rx {
        // A failed stderr write has nowhere to be reported; the line is lost.
        drop(out.write_all(&line));
        drop(out.flush());
        progress.written.fetch_add(1, Ordering::Release);
    }
}

/// The `tracing` layer that renders events as hclog JSON lines and queues them for stderr.
pub struct HclogLayer {
    max_level: Level,
    sender: SyncSender<Vec<u8>>,
    dropped: AtomicU64,
    progress: Arc<Progress>,
}

impl fmt::Debug for HclogLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HclogLayer")
            .field("max_level", &self.max_level)
            .finish_non_exhaustive()
    }
}

impl HclogLayer {
    /// A layer passing events at `max_level` or more severe, and the receiving end of its
    /// queue of at most `queue_lines` rendered lines (each ends in `\n`). [`init`] hands the
    /// receiver to a writer thread; tests read it directly.
    pub fn new(max_level: Level, queue_lines: usize) -> (Self, Receiver<Vec<u8>>) {
        let (sender, rx) = mpsc::sync_channel(queue_lines.max(1));
        let layer = Self {
            max_level,
            sender,
            dropped: AtomicU64::new(0),
            progress: Arc::default(),
        };
        (layer, rx)
    }

    fn enqueue(&self, line: Vec<u8>) {
        if self.sender.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.progress.queued.fetch_add(1, Ordering::Release);
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let note = render(
                Level::WARN,
                "provider.logging",
                &format!("{dropped} log lines dropped: stderr was not being read"),
                Map::new(),
            );
            if self.sender.try_send(note).is_ok() {
                self.progress.queued.fetch_add(1, Ordering::Release);
            } else {
                self.dropped.fetch_add(dropped, Ordering::Relaxed);
            }
        }
    }
}

/// Span fields, stored in the span's extensions so events inside it can carry them.
struct SpanFields(Map<String, Value>);

impl<S> Layer<S> for HclogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        let level = *metadata.level();
        level <= self.max_level && (level <= DEPENDENCY_LEVEL || is_own(metadata.target()))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max_level))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut visitor = FieldVisitor::default();
        attrs.record(&mut visitor);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(visitor.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = FieldVisitor::default();
        values.record(&mut visitor);
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(SpanFields(fields)) => fields.extend(visitor.fields),
            None => extensions.insert(SpanFields(visitor.fields)),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            // Outermost span first, so inner spans and the event itself win on equal keys.
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    fields.extend(span_fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        fields.extend(visitor.fields);
        let metadata = event.metadata();
        let line = render(
            *metadata.level(),
            &module_name(metadata.target()),
            visitor.message.as_deref().unwrap_or(""),
            fields,
        );
        self.enqueue(line);
    }
}

/// Whether a `tracing` target belongs to this provider (library or binary crate).
fn is_own(target: &str) -> bool {
    ["hyperprotect", "terraform_provider_hyperprotect"]
        .into_iter()
        .any(|root| {
            target
                .strip_prefix(root)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// hclog's module for a `tracing` target: `provider` for the crate root, else
/// `provider.<path>` with our crate name dropped and `::` turned into dots.
fn module_name(target: &str) -> String {
    let trimmed = ["hyperprotect", "terraform_provider_hyperprotect"]
        .into_iter()
        .find_map(|root| {
            if target == root {
                Some("")
            } else {
                target.strip_prefix(root)?.strip_prefix("::")
            }
        })
        .unwrap_or(target);
    if trimmed.is_empty() {
        "provider".to_owned()
    } else {
        format!("provider.{}", trimmed.replace("::", "."))
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// `2026-11-28T05:30:00.123456Z`: hclog's JSON timestamp, microseconds, in UTC (reading the
/// local offset is unsound in a multi-threaded process on some platforms).
fn timestamp(now: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// One JSON line. The four `@` keys are written last so an event field cannot replace them.
fn render(level: Level, module: &str, message: &str, mut fields: Map<String, Value>) -> Vec<u8> {
    fields.insert("@level".into(), Value::from(level_name(level)));
    fields.insert("@message".into(), Value::from(message));
    fields.insert("@module".into(), Value::from(module));
    fields.insert(
        "@timestamp".into(),
        Value::from(timestamp(OffsetDateTime::now_utc())),
    );
    let mut line = serde_json::to_vec(&Value::Object(fields)).unwrap_or_else(|_| {
        // Unreachable for string-keyed maps of JSON values; keep a valid line regardless.
        br#"{"@level":"error","@message":"unrenderable log event"}"#.to_vec()
    });
    line.push(b'\n');
    line
}

/// Collects an event's or span's fields as JSON values; `message` is kept apart.
#[derive(Default)]
struct FieldVisitor {
    message: Option<String>,
    fields: Map<String, Value>,
}

impl FieldVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for FieldVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let json = serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(value.to_string()));
        self.put(field, json);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole `source()` chain, like Go's wrapped errors print.
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        self.put(field, Value::String(text));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn level_comes_from_tf_log_provider_before_tf_log() {
        assert_eq!(level_from_env(env(&[])), None);
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "debug")])),
            Some(Level::DEBUG)
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "JSON")])),
            Some(Level::TRACE)
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "TRACE"), ("TF_LOG_PROVIDER", "WARN")])),
            Some(Level::WARN)
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "TRACE"), ("TF_LOG_PROVIDER", "off")])),
            None
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "ERROR"), ("TF_LOG_PROVIDER", "")])),
            Some(Level::ERROR)
        );
        assert_eq!(level_from_env(env(&[("TF_LOG", "verbose")])), None);
    }

    #[test]
    fn modules_follow_hclog_naming() {
        assert_eq!(module_name("hyperprotect"), "provider");
        assert_eq!(
            module_name("hyperprotect::runtime::server"),
            "provider.runtime.server"
        );
        assert_eq!(module_name("h2::codec"), "provider.h2.codec");
        assert_eq!(module_name("hyperprotectx"), "provider.hyperprotectx");
    }

    #[test]
    fn timestamps_have_microseconds_and_zulu_offset() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_795_844_400_123_456_789)
            .expect("valid timestamp");
        assert_eq!(timestamp(at), "2026-11-28T05:40:00.123456Z");
    }

    fn capture(level: Level, emit: impl FnOnce()) -> Vec<Map<String, Value>> {
        let (layer, rx) = HclogLayer::new(level, 64);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, emit);
        let mut lines = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            assert_eq!(line.last(), Some(&b'\n'), "each record is one line");
            assert!(!line[..line.len() - 1].contains(&b'\n'));
            match serde_json::from_slice(&line) {
                Ok(Value::Object(map)) => lines.push(map),
                other => panic!("not a JSON object: {other:?}"),
            }
        }
        lines
    }

    #[test]
    fn events_become_hclog_json_lines_with_fields() {
        let lines = capture(Level::DEBUG, || {
            let span = tracing::info_span!("rpc", method = "PlanResourceChange");
            let _entered = span.enter();
            tracing::debug!(target: "hyperprotect::runtime::server", port = 7u16, ok = true, "listening on {}", "unix");
            tracing::trace!("filtered out");
            tracing::error!(
                error = &std::io::Error::other("boom") as &dyn std::error::Error,
                "failed"
            );
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        let first = &lines[0];
        assert_eq!(first["@level"], "debug");
        assert_eq!(first["@message"], "listening on unix");
        assert_eq!(first["@module"], "provider.runtime.server");
        assert_eq!(first["port"], 7);
        assert_eq!(first["ok"], true);
        assert_eq!(first["method"], "PlanResourceChange");
        let stamp = first["@timestamp"].as_str().expect("timestamp string");
        assert_eq!(stamp.len(), "2026-11-28T05:30:00.123456Z".len(), "{stamp}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.',
            "{stamp}"
        );
        assert_eq!(lines[1]["@level"], "error");
        assert_eq!(lines[1]["error"], "boom");
    }

    #[test]
    fn dependencies_are_capped_at_info() {
        let lines = capture(Level::TRACE, || {
            tracing::trace!(target: "h2::codec::framed_write", "send frame");
            tracing::debug!(target: "hyper::proto", "parsed headers");
            tracing::info!(target: "tonic::transport", "dependency info");
            tracing::trace!(target: "hyperprotect::runtime::server", "own trace");
            tracing::trace!(target: "terraform_provider_hyperprotect", "binary trace");
            tracing::trace!(target: "hyperprotectx", "not ours");
        });
        let messages: Vec<&str> = lines
            .iter()
            .filter_map(|l| l["@message"].as_str())
            .collect();
        assert_eq!(messages, ["dependency info", "own trace", "binary trace"]);
    }

    #[test]
    fn fields_cannot_overwrite_hclog_keys() {
        let mut fields = Map::new();
        fields.insert("@level".into(), Value::from("error"));
        fields.insert("@module".into(), Value::from("terraform"));
        fields.insert("kept".into(), Value::from(1));
        let line = render(Level::INFO, "provider", "real", fields);
        let json: Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(json["@level"], "info");
        assert_eq!(json["@module"], "provider");
        assert_eq!(json["@message"], "real");
        assert_eq!(json["kept"], 1);
    }

    #[test]
    fn sensitive_values_never_print() {
        let secret = Sensitive::new(String::from("hunter2-private-key"));
        assert_eq!(format!("{secret}"), "<sensitive>");
        assert_eq!(format!("{secret:?}"), "<sensitive>");
        assert_eq!(
            format!("{:#?}", Some(&secret)),
            "Some(\n    <sensitive>,\n)"
        );
        assert_eq!(secret.expose(), "hunter2-private-key");
        let lines = capture(Level::INFO, || {
            tracing::info!(api_key = ?secret, "configured");
        });
        assert_eq!(lines[0]["api_key"], "<sensitive>");
        let text = serde_json::to_string(&lines).expect("json");
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn full_queue_drops_lines_and_reports_the_count() {
        let (layer, rx) = HclogLayer::new(Level::INFO, 2);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..5 {
                tracing::info!(i, "line");
            }
            // The writer is not reading: three lines were dropped, and nothing blocked.
            assert_eq!(rx.try_iter().count(), 2);
            tracing::info!("after");
        });
        let lines: Vec<Value> = rx
            .try_iter()
            .map(|line| serde_json::from_slice(&line).expect("json"))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["@message"], "after");
        assert_eq!(
            lines[1]["@message"],
            "3 log lines dropped: stderr was not being read"
        );
    }

    #[test]
    fn exit_waits_for_the_writer_but_only_until_the_deadline() {
        let (layer, rx) = HclogLayer::new(Level::INFO, 8);
        let progress = Arc::clone(&layer.progress);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || tracing::info!("queued"));

        // Nobody writing yet: the wait gives up at its deadline instead of hanging.
        let started = Instant::now();
        assert!(!progress.wait_written(Duration::from_millis(30)));
        assert!(started.elapsed() < Duration::from_secs(2));

        let writer_progress = Arc::clone(&progress);
        let writer = std::thread::spawn(move || {
            let mut out = Vec::new();
            write_lines(rx, &mut out, &writer_progress);
            out
        });
        assert!(progress.wait_written(Duration::from_secs(5)));
        drop(progress);
        let out = writer.join().expect("writer thread");
        assert!(out.starts_with(b"{") && out.ends_with(b"}\n"), "{out:?}");
    }
}
