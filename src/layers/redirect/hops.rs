//! The request of a redirect hop, kept so that it can be sent again (a
//! retry) or turned into the next hop's (a redirect).

use bytes::Bytes;
use http::{HeaderMap, Method, Uri, Version};

use super::policy::{self, RedirectError, RedirectPolicy};
use crate::layers::{Payload, StackRequest};

/// What each attempt's request is made from: the current hop's method,
/// URL and headers, and what the next hop's are made from.
#[derive(Debug)]
pub(crate) struct Hops {
    method: Method,
    /// The current hop's URL.
    uri: Uri,
    version: Version,
    /// The input's headers, less those of a body a hop dropped: the next
    /// hop's are made from these, so credentials dropped on the way to
    /// another origin come back for a later hop to the original one.
    headers: HeaderMap,
    /// The current hop's own headers, once there was a redirect.
    hop_headers: Option<HeaderMap>,
    extensions: http::Extensions,
    body: Payload,
    /// Every request made so far, the last being the current one, once
    /// there was a redirect; empty (no allocation) until then, when the
    /// only request is the original.
    chain: Vec<(Method, Uri)>,
}

impl Hops {
    /// Keeps what `req` is made of, before it is sent.
    pub(crate) fn keep(req: &StackRequest) -> Self {
        Hops {
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers: req.headers().clone(),
            hop_headers: None,
            extensions: req.extensions().clone(),
            body: req.body().clone(),
            chain: Vec::new(),
        }
    }

    /// The current hop's method.
    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    /// The current hop's URL.
    pub(crate) fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The current hop's body, with its input's record.
    pub(crate) fn body(&self) -> &Payload {
        &self.body
    }

    /// The URL that answered, when it is not the input's own.
    pub(crate) fn redirected_to(&self) -> Option<&Uri> {
        (!self.chain.is_empty()).then_some(&self.uri)
    }

    /// The current hop's request, to send (again).
    pub(crate) fn request(&self) -> StackRequest {
        let mut req = http::Request::new(self.body.clone());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        *req.headers_mut() = self.hop_headers.as_ref().unwrap_or(&self.headers).clone();
        *req.extensions_mut() = self.extensions.clone();
        req
    }

    /// Makes the next hop the current one if `res` redirects by the rules
    /// of `policy`; `Ok(false)` when `res` is the answer.
    ///
    /// # Errors
    ///
    /// A redirect that `policy` refuses (a loop, too many, a downgrade).
    pub(crate) fn follow(
        &mut self,
        res: &http::Response<Bytes>,
        policy: &RedirectPolicy,
    ) -> Result<bool, RedirectError> {
        let Some(location) = policy::location(res, &self.uri) else {
            return Ok(false);
        };
        if self.chain.is_empty() {
            self.chain.push((self.method.clone(), self.uri.clone()));
        }
        let (method, keep_body) = policy::next_method(res.status(), &self.method);
        policy.check(&self.chain, &method, &location)?;

        if !keep_body {
            self.body.bytes = Bytes::new();
            policy::drop_payload_headers(&mut self.headers);
        }
        let mut headers = self.headers.clone();
        let original = &self.chain[0].1;
        if !policy::same_origin(original, &location) {
            policy::drop_credentials(&mut headers);
        }
        // Let the pool set Host for the new authority.
        headers.remove(http::header::HOST);

        // A Location may carry credentials of its own. (It went through
        // the url crate, so its authority parses without them.) The
        // headers carried over were marked sensitive with the input.
        let mut head = http::Request::new(());
        *head.uri_mut() = location;
        *head.headers_mut() = headers;
        let _ = crate::request::move_credentials(&mut head);
        let (head, ()) = head.into_parts();

        self.method = method;
        self.uri = head.uri;
        self.hop_headers = Some(head.headers);
        self.chain.push((self.method.clone(), self.uri.clone()));
        Ok(true)
    }
}
