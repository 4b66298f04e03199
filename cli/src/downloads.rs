//! `--output-dir`: the inputs as downloads. Each input's file is decided
//! as the batch takes it, before its request (see [`crate::files`]); an
//! input that needs no request (its file kept by `--continue`, or a
//! partial file the tool will not open) never enters the batch: its
//! outcome goes straight to the output.

use std::path::PathBuf;

use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::files::{self, Prepared};
use crate::input::{Input, Origins};
use crate::outcome::Outcome;

/// Where the files go, and what is done with those already there.
#[derive(Clone)]
pub(crate) struct Targets {
    pub(crate) dir: PathBuf,
    /// `--continue`: a file already there is kept, not fetched again.
    pub(crate) keep_complete: bool,
    pub(crate) origins: Origins,
    /// The outcomes of the inputs that are not sent.
    pub(crate) not_sent: mpsc::UnboundedSender<(usize, Outcome)>,
}

/// The `(input, path)` pairs for the batch, from the inputs by index.
pub(crate) fn targets<S>(inputs: S, targets: Targets) -> impl Stream<Item = (Input, PathBuf)>
where
    S: Stream<Item = (usize, Input)>,
{
    inputs.filter_map(move |(index, input)| {
        let targets = targets.clone();
        async move {
            let url = targets.origins.url(index);
            let path = targets
                .dir
                .join(files::file_name(index, url.as_deref().unwrap_or("")));
            // A line that did not parse is its own error: no file to look at.
            let prepared = if input.is_ok() {
                let (path, keep) = (path.clone(), targets.keep_complete);
                // A few lstats, off the task that drives the batch.
                tokio::task::spawn_blocking(move || files::prepare(&path, keep))
                    .await
                    .unwrap_or_else(|e| Prepared::Unwritable(e.to_string()))
            } else {
                Prepared::Fetch
            };
            let not_sent = match prepared {
                Prepared::Fetch => {
                    targets.origins.to_batch(index);
                    return Some((input, path));
                }
                Prepared::Kept { bytes } => Outcome::Kept { path, bytes },
                Prepared::Unwritable(reason) => Outcome::FileFailed(reason),
            };
            // The receiver goes only with the run.
            let _ = targets.not_sent.send((index, not_sent));
            None
        }
    })
}
