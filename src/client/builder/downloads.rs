//! The builder's download settings (see
//! [`BatchClient::download_all`](crate::BatchClient::download_all)).

use super::BatchClientBuilder;

impl BatchClientBuilder {
    /// Sets the largest file a download may write, in bytes: a larger
    /// body (announced by `Content-Length`, or counted as it is written,
    /// decoded) ends the download with
    /// [`BodyTooLarge`](crate::ErrorKind::BodyTooLarge) and no file.
    ///
    /// Default is no limit: a download holds two buffers of its body in
    /// memory whatever its size, so the disk is the limit.
    /// [`max_body_size`](Self::max_body_size) applies to bodies read into
    /// memory, not to downloads.
    pub fn max_download_size(mut self, bytes: u64) -> Self {
        self.downloads.max_size = Some(bytes);
        self
    }

    /// Whether downloads compute the SHA-256 of the bytes they store, as
    /// they write them ([`Download::sha256`](crate::Download::sha256)).
    /// A resumed download reads its file once more at the end instead.
    ///
    /// Default is `false`.
    pub fn download_checksum(mut self, enabled: bool) -> Self {
        self.downloads.checksum = enabled;
        self
    }

    /// Whether downloads survive the run, as `aria2c -c` and `curl -C -`
    /// do: a download that fails or is cancelled keeps its `<path>.part`
    /// when it can be resumed (the server allows ranges and gave a
    /// validator), beside a small `<path>.part.meta` holding that
    /// validator and the URL; and a download that finds both for its URL
    /// asks only for the rest (`Range` with `If-Range`, so a file that
    /// changed on the server starts over rather than splice two
    /// versions). A partial file that cannot be resumed is still removed.
    ///
    /// Default is `false`: a download that ends without its file leaves
    /// nothing behind.
    pub fn download_continue(mut self, enabled: bool) -> Self {
        self.downloads.keep_partial = enabled;
        self
    }
}
