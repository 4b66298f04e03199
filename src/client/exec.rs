//! One input, start to end: the path that [`BatchClient::fetch`] and every
//! batch's driver take alike. The input is turned into a request with the
//! client's defaults, given its [`RequestRecord`] (the record the layers write its
//! attempts, timings and peer into, and the batch's counters), run through
//! the stack, and its outcome read back from that record into a
//! [`Response`] or an [`Error`].

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use http::header::Entry;
use tower::ServiceExt;

use super::BatchClient;
use crate::admission::Admission;
use crate::batch::Started;
use crate::download::{self, Job, Target};
use crate::error::{BoxError, Error};
use crate::layers::{FinalUrl, Payload, Stack, StackRequest};
use crate::observe::{BatchState, RequestRecord};
use crate::request::{self, IntoRequest};
use crate::response::Response;

/// Where an input runs when it is part of a batch.
pub(super) struct InBatch {
    pub(super) index: usize,
    pub(super) admission: Admission,
    pub(super) state: Arc<BatchState>,
}

impl BatchClient {
    /// Starts a [`prepare`](Self::prepare)d input: a future that owns all
    /// it needs (so a stream of them can outlive this borrow of the
    /// client). Not generic over the input type, so the future is not
    /// either, and it can be `'static` whatever the input borrowed.
    pub(super) fn exec(
        &self,
        prepared: Result<http::Request<Bytes>, Error>,
        batch: Option<InBatch>,
    ) -> Started<impl Future<Output = Result<Response, Error>> + Send + 'static + use<>> {
        let index = batch.as_ref().map(|b| b.index);
        let prepared = match prepared.and_then(|req| self.attach_job(req)) {
            Ok((req, job)) => {
                let (admission, state) = match batch {
                    Some(InBatch {
                        admission, state, ..
                    }) => (Some(admission), Some(state)),
                    None => (None, None),
                };
                let record =
                    RequestRecord::new(index, req.uri().clone(), admission, state, Instant::now());
                Ok((self.inner.stack.clone(), req, record, job))
            }
            Err(err) => Err(err.with_index(index)),
        };
        let record = prepared
            .as_ref()
            .ok()
            .map(|(_, _, record, _)| record.clone());
        Started {
            future: run(prepared, index, self.inner.error_for_status),
            record,
        }
    }

    /// A download's input (its path in the extensions) made a [`Job`] that
    /// its attempts share.
    fn attach_job(
        &self,
        mut req: http::Request<Bytes>,
    ) -> Result<(http::Request<Bytes>, Option<Job>), Error> {
        let Some(Target(path)) = req.extensions_mut().remove::<Target>() else {
            return Ok((req, None));
        };
        match Job::new(path, req.uri(), self.inner.downloads) {
            Ok(job) => {
                req.extensions_mut().insert(job.clone());
                Ok((req, Some(job)))
            }
            Err(err) => Err(Error::from_stack(err, 0).with_url(req.uri().clone())),
        }
    }

    /// Converts an input and adds the default headers.
    pub(super) fn prepare(&self, input: impl IntoRequest) -> Result<http::Request<Bytes>, Error> {
        let mut req = input.into_request()?;
        if tokio::runtime::Handle::try_current().is_err() {
            // hyper would panic spawning its connection task; say why instead.
            return Err(Error::config("requests must run inside a Tokio runtime")
                .with_url(req.uri().clone()));
        }
        request::move_credentials(&mut req)?;
        add_defaults(req.headers_mut(), &self.inner.default_headers);
        request::mark_sensitive(req.headers_mut());
        Ok(req)
    }
}

/// The part of a request that waits: not generic over the input type, and
/// borrowing nothing.
async fn run(
    prepared: Result<(Stack, http::Request<Bytes>, RequestRecord, Option<Job>), Error>,
    index: Option<usize>,
    error_for_status: bool,
) -> Result<Response, Error> {
    let (stack, req, record, job) = prepared?;
    // However this ends, even dropped, a download without its file leaves
    // no partial file.
    let _abandon = job.map(Abandon);
    if let Some(Abandon(job)) = &_abandon {
        job.take_up_partial().await;
    }
    let req = req.map(|bytes| Payload {
        bytes,
        record: Some(record.clone()),
    });
    let result = send(stack, req, index).await;
    match result {
        Ok(mut res) => {
            // After redirects, the URL that answered.
            let url = match res.extensions_mut().remove::<FinalUrl>() {
                Some(FinalUrl(last)) => last,
                None => record.url().clone(),
            };
            let res = Response::new(
                res,
                url,
                record.attempts(),
                record.timings(),
                record.remote_addr(),
            );
            if _abandon.is_some() && !res.is_downloaded() {
                return Err(not_stored(&res).with_index(index));
            }
            match error_for_status.then(|| res.status_error()).flatten() {
                Some(err) => Err(err.with_index(index)),
                None => Ok(res),
            }
        }
        Err(err) => Err(Error::from_stack(err, record.attempts())
            .with_url(record.url().clone())
            .with_index(index)
            .with_timings(record.timings())),
    }
}

/// Removes a download's partial file when it ends without its file.
struct Abandon(Job);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// The error of a download whose final answer was not stored: any status
/// but a `2xx` (a file of an error page would pass for the file), or a
/// caller's layer that answered itself.
fn not_stored(res: &Response) -> Error {
    if res.status().is_success() {
        return Error::from_stack(
            download::file_error(
                "a layer of the caller's answered the download with a response of its own".into(),
            ),
            res.attempts(),
        )
        .with_url(res.url().clone())
        .with_timings(*res.timings());
    }
    Error::bad_status(
        res.status(),
        res.url().clone(),
        res.attempts(),
        *res.timings(),
    )
}

/// Runs the stack; with the `tracing` feature, in a span of its own, which
/// the attempts' spans are children of.
async fn send(
    stack: Stack,
    req: StackRequest,
    index: Option<usize>,
) -> Result<http::Response<Bytes>, BoxError> {
    #[cfg(feature = "tracing")]
    {
        use tracing::Instrument;

        // The client's target, not this file's module path, so that
        // filters naming `batch_fetch::client` see it.
        let span = tracing::info_span!(
            target: "batch_fetch::client",
            "request",
            index,
            method = %req.method(),
            url = %crate::error::Redacted(req.uri()),
            status = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        let result = stack.oneshot(req).instrument(span.clone()).await;
        match &result {
            Ok(res) => span.record("status", res.status().as_u16()),
            Err(err) => span.record("error", tracing::field::display(err)),
        };
        result
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = index;
        stack.oneshot(req).await
    }
}

/// Adds each default header the request does not set itself.
fn add_defaults(headers: &mut HeaderMap, defaults: &HeaderMap) {
    if headers.is_empty() {
        // Most inputs are bare URLs: no lookups, and room for the headers
        // the layers below add (`Accept-Encoding`, `Host`), so that adding
        // them does not grow the map again.
        let mut all = HeaderMap::with_capacity(defaults.len() + 3);
        for (name, value) in defaults {
            all.append(name.clone(), value.clone());
        }
        *headers = all;
        return;
    }
    for name in defaults.keys() {
        if let Entry::Vacant(slot) = headers.entry(name) {
            let mut values = defaults.get_all(name).iter();
            if let Some(first) = values.next() {
                let mut added = slot.insert_entry(first.clone());
                for value in values {
                    added.append(value.clone());
                }
            }
        }
    }
}
