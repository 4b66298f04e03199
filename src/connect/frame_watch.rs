//! Sees an HTTP/2 GOAWAY the moment it is read, and counts the response
//! heads the server sends.
//!
//! hyper learns of a GOAWAY inside its connection task, but tells the pool
//! only when the next request is handed to that connection; until then
//! the connection looks open, and the pool would keep handing it requests
//! it will refuse. Watching the frame headers
//! of what the server sends (the plaintext side of TLS, where hyper reads
//! it) marks the connection retired as soon as the frame arrives. The
//! HEADERS frames counted on the way say whether the server processed
//! anything on a connection before it refused streams: a server that
//! recycles connections, not one that refuses everything. Only frame
//! headers are looked at: 9 bytes per frame, the rest skipped.

/// The HTTP/2 frame type of HEADERS (RFC 9113 §6.2).
const HEADERS: u8 = 0x1;
/// The HTTP/2 frame type of GOAWAY (RFC 9113 §6.8).
const GOAWAY: u8 = 0x7;
/// Every HTTP/2 frame starts with a header of this many bytes.
const HEADER: usize = 9;

/// Follows the frame boundaries of the server's side of an HTTP/2
/// connection, across reads of any size.
#[derive(Debug, Default)]
pub(crate) struct FrameWatch {
    /// Payload bytes of the current frame still to come.
    skip: usize,
    /// A frame header split across reads.
    header: [u8; HEADER],
    have: usize,
}

/// What some bytes from the server held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// A GOAWAY frame's header.
    pub(crate) goaway: bool,
    /// How many HEADERS frames' headers (response heads, or trailers).
    pub(crate) heads: u32,
}

impl FrameWatch {
    /// Looks at `bytes`, the next bytes the server sent: the frame headers
    /// they complete.
    pub(crate) fn read(&mut self, mut bytes: &[u8]) -> Seen {
        let mut seen = Seen::default();
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (HEADER - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == HEADER {
                let [a, b, c, kind, ..] = self.header;
                self.skip = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                seen.goaway |= kind == GOAWAY;
                seen.heads += u32::from(kind == HEADERS);
                self.have = 0;
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            0,
            0,
            0,
            0,
            1,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn finds_a_goaway_after_other_frames_in_any_split() {
        let mut bytes = frame(0x4, &[0; 18]); // SETTINGS
        bytes.extend(frame(HEADERS, &[0x88; 40]));
        bytes.extend(frame(HEADERS, &[0x88; 3]));
        // DATA whose payload looks like a GOAWAY header: skipped.
        bytes.extend(frame(0x0, &frame(GOAWAY, &[0; 8])));
        let quiet = bytes.len();
        bytes.extend(frame(GOAWAY, &[0, 0, 0, 3, 0, 0, 0, 0]));
        for split in 1..bytes.len() {
            let mut watch = FrameWatch::default();
            let mut seen_at = None;
            let mut heads = 0;
            for (i, chunk) in bytes.chunks(split).enumerate() {
                let seen = watch.read(chunk);
                heads += seen.heads;
                if seen.goaway {
                    seen_at.get_or_insert(i * split + chunk.len());
                }
            }
            assert_eq!(heads, 2, "split {split}");
            let seen_at = seen_at.unwrap_or_else(|| panic!("split {split}: no GOAWAY"));
            assert!(
                seen_at > quiet,
                "split {split}: seen too early at {seen_at}"
            );
        }
    }

    #[test]
    fn large_frames_are_skipped_whole() {
        let mut watch = FrameWatch::default();
        let big = frame(0x0, &vec![GOAWAY; 70_000]);
        assert_eq!(watch.read(&big), Seen::default());
        assert!(watch.read(&frame(GOAWAY, &[0; 8])).goaway);
    }
}
