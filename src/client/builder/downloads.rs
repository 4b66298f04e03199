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
}
