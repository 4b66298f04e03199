//! Following redirects: the rules ([`policy`]) and the request each hop is
//! made from ([`hops`]). The attempt loop (`layers::attempts`) follows
//! them.
//!
//! Not tower-http's `FollowRedirect`: it rebuilds each hop's request
//! without the original's extensions (which carry the caller's own
//! extensions) and can only stop, not fail, on a loop or too many hops. It is also a layer of its own, which keeps a copy of the
//! request beside the copy the retries keep; one loop for both keeps one.

mod hops;
mod policy;

pub(crate) use hops::Hops;
pub(crate) use policy::RedirectPolicy;

use http::Uri;

/// The final URL of a response, after any redirects.
#[derive(Clone, Debug)]
pub(crate) struct FinalUrl(pub(crate) Uri);
