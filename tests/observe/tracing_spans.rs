//! With the `tracing` feature, every input runs in a `request` span and
//! each of its attempts in a child `attempt` span, which record the method,
//! URL, attempt number and the status (or error). Checked with a tiny
//! `Subscriber` that writes spans down; each test installs it for its own
//! thread and runs on a current-thread runtime, so tests do not mix.
#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::clients::{builder, client, quick};
use crate::support::{TestServer, bounded, closed_port, expect_err};
use batch_fetch::ErrorKind;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span as recorded.
#[derive(Debug, Clone)]
struct SpanRec {
    id: u64,
    name: &'static str,
    level: tracing::Level,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
}

impl SpanRec {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Spans {
    list: Vec<SpanRec>,
    /// Spans entered on this (the only) thread, innermost last.
    stack: Vec<u64>,
}

/// Records every span with its fields and parent. Cloned handles share the
/// record.
#[derive(Clone, Default)]
struct Recorder {
    next: Arc<AtomicU64>,
    spans: Arc<Mutex<Spans>>,
}

impl Recorder {
    fn spans(&self) -> Vec<SpanRec> {
        self.spans.lock().unwrap().list.clone()
    }

    fn named(&self, name: &str) -> Vec<SpanRec> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut spans = self.spans.lock().unwrap();
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            Some(parent.into_u64())
        } else {
            spans.stack.last().copied()
        };
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        spans.list.push(SpanRec {
            id,
            name: attrs.metadata().name(),
            level: *attrs.metadata().level(),
            parent,
            fields,
        });
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some(rec) = spans.list.iter_mut().find(|s| s.id == span.into_u64()) {
            values.record(&mut Fields(&mut rec.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, span: &Id) {
        self.spans.lock().unwrap().stack.push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let mut spans = self.spans.lock().unwrap();
        if let Some(pos) = spans.stack.iter().rposition(|s| *s == span.into_u64()) {
            spans.stack.remove(pos);
        }
    }
}

/// Installs a fresh [`Recorder`] for this thread until the guard drops.
fn record() -> (Recorder, tracing::subscriber::DefaultGuard) {
    let recorder = Recorder::default();
    let guard = tracing::subscriber::set_default(recorder.clone());
    // A callsite first hit by another test's thread, where no recorder
    // is set, may have cached "never interested" in the meantime: ask
    // every callsite again now that this one is.
    tracing::callsite::rebuild_interest_cache();
    (recorder, guard)
}

// Current-thread runtime: the whole test (servers included) runs on the
// thread whose default subscriber is the recorder.
#[tokio::test(flavor = "current_thread")]
async fn one_fetch_is_a_request_span_with_an_attempt_span_inside() {
    let server = TestServer::start().await;
    let client = client();
    let (recorder, _guard) = record();
    let url = server.url("/id/7");

    let res = bounded("fetch", client.fetch(&url)).await.unwrap();
    assert_eq!(res.status(), 200);

    let requests = recorder.named("request");
    assert_eq!(requests.len(), 1, "{:#?}", recorder.spans());
    let request = &requests[0];
    assert_eq!(request.level, tracing::Level::INFO);
    assert_eq!(request.field("method"), Some("GET"));
    assert_eq!(request.field("url"), Some(url.as_str()));
    assert_eq!(request.field("status"), Some("200"));
    assert_eq!(request.field("error"), None);
    assert_eq!(request.field("index"), None, "a lone fetch has no index");

    let attempts = recorder.named("attempt");
    assert_eq!(attempts.len(), 1, "{:#?}", recorder.spans());
    let attempt = &attempts[0];
    assert_eq!(attempt.level, tracing::Level::DEBUG);
    assert_eq!(attempt.parent, Some(request.id), "{:#?}", recorder.spans());
    assert_eq!(attempt.field("attempt"), Some("1"));
    assert_eq!(attempt.field("method"), Some("GET"));
    assert_eq!(attempt.field("url"), Some(url.as_str()));
    assert_eq!(attempt.field("status"), Some("200"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_retried_request_has_one_attempt_span_per_attempt() {
    let server = TestServer::start().await;
    let client = builder().retry(quick(2)).build().unwrap();
    let (recorder, _guard) = record();
    let urls = [server.url("/flaky/trace/1")];

    let res = bounded("batch", client.fetch_all(&urls)).await.unwrap();
    assert_eq!(res[0].attempts(), 2);

    let requests = recorder.named("request");
    assert_eq!(requests.len(), 1, "{:#?}", recorder.spans());
    let request = &requests[0];
    assert_eq!(request.field("index"), Some("0"), "a batch input's index");
    assert_eq!(request.field("status"), Some("200"));

    let attempts = recorder.named("attempt");
    let summary: Vec<(Option<&str>, Option<&str>, Option<u64>)> = attempts
        .iter()
        .map(|a| (a.field("attempt"), a.field("status"), a.parent))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("1"), Some("503"), Some(request.id)),
            (Some("2"), Some("200"), Some(request.id)),
        ],
        "{:#?}",
        recorder.spans()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_request_records_its_error() {
    let client = builder().retry(quick(1)).build().unwrap();
    let (recorder, _guard) = record();
    let url = format!("http://127.0.0.1:{}/", closed_port());

    let err = expect_err(bounded("refused", client.fetch(&url)).await, "refused");
    assert_eq!(err.kind(), ErrorKind::Connect);

    let requests = recorder.named("request");
    assert_eq!(requests.len(), 1, "{:#?}", recorder.spans());
    let request = &requests[0];
    assert_eq!(request.field("status"), None);
    assert!(
        request.field("error").is_some_and(|e| !e.is_empty()),
        "{request:#?}"
    );
    let attempts = recorder.named("attempt");
    assert_eq!(attempts.len(), 2, "{:#?}", recorder.spans());
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(a.parent, Some(request.id));
        assert_eq!(a.field("attempt"), Some((n + 1).to_string().as_str()));
        assert!(a.field("error").is_some(), "{a:#?}");
        assert_eq!(a.field("status"), None);
    }
}
