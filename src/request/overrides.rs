//! What one input sets for itself over the client's settings:
//! [`Request::timeout`](crate::Request::timeout) and
//! [`Request::retry`](crate::Request::retry).
//!
//! They ride in the request's extensions, from the input to the layers
//! that read them (`layers::timeout`, `layers::attempts`), and only when
//! set. Unlike the input's record, which every request carries beside its
//! body (see `layers::Payload`), they are rare: in the extensions an input
//! without any costs nothing (an empty `http::Extensions` is a null
//! pointer, and looking in it a null check), and the stack's request type
//! does not grow. Each attempt of an input that has some copies them with
//! the extensions.

use std::time::Duration;

use crate::retry::RetryPolicy;

/// An input's own settings; `None` keeps the client's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Overrides {
    /// The timeout of each of its attempts.
    pub(crate) timeout: Option<Duration>,
    /// Its retry policy (the client's budget still applies).
    pub(crate) retry: Option<RetryPolicy>,
}

impl Overrides {
    /// Puts them on `req`, unless there is nothing to override.
    pub(crate) fn attach<B>(self, req: &mut http::Request<B>) {
        if self != Overrides::default() {
            req.extensions_mut().insert(self);
        }
    }

    /// Those of `req`'s input, if it set any.
    #[inline]
    pub(crate) fn of<B>(req: &http::Request<B>) -> Option<&Overrides> {
        req.extensions().get::<Overrides>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_override_adds_no_extension() {
        let mut req = http::Request::new(());
        Overrides::default().attach(&mut req);
        assert!(req.extensions().is_empty());
        assert!(Overrides::of(&req).is_none());

        let own = Overrides {
            timeout: Some(Duration::from_secs(1)),
            retry: None,
        };
        own.attach(&mut req);
        assert_eq!(Overrides::of(&req), Some(&own));
    }
}
