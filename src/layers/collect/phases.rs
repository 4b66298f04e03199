//! The phases of one attempt, measured as its response arrives, for its
//! input's [`Timings`](crate::Timings).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::connect::ConnectedAt;
use crate::observe::RequestRecord;

/// Started when the attempt is handed to the connection side.
pub(super) struct Stopwatch {
    sent: Instant,
    head: Option<Head>,
}

struct Head {
    at: Instant,
    /// The part of the wait spent on the connection.
    connect: Duration,
    remote: Option<SocketAddr>,
}

impl Stopwatch {
    pub(super) fn start() -> Self {
        Stopwatch {
            sent: Instant::now(),
            head: None,
        }
    }

    /// The response head arrived, on the connection `connected` names.
    pub(super) fn head(&mut self, connected: Option<ConnectedAt>) {
        let connect = connected
            .as_ref()
            .map_or(Duration::ZERO, |c| c.waited(self.sent));
        self.head = Some(Head {
            at: Instant::now(),
            connect,
            remote: connected.and_then(|c| c.remote()),
        });
    }

    /// The body ended (or failed): the phases go to `record`.
    pub(super) fn body_done(&self, record: &RequestRecord) {
        if let Some(head) = &self.head {
            let ttfb = head
                .at
                .duration_since(self.sent)
                .saturating_sub(head.connect);
            record.phases(head.connect, ttfb, head.at.elapsed(), head.remote);
        }
    }

    /// The head is handed over with its body unread: the phases so far
    /// (and the peer) go to `record`, the body's once it ends.
    pub(super) fn head_done(&self, record: &RequestRecord) {
        if let Some(head) = &self.head {
            let since_sent = head.at.duration_since(self.sent);
            let ttfb = since_sent.saturating_sub(head.connect);
            record.phases(head.connect, ttfb, Duration::ZERO, head.remote);
        }
    }
}
