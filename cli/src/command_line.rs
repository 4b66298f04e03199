//! The command line as the report shows it: as typed, near enough, with
//! its secrets masked (see [`crate::redact`]).

use std::borrow::Cow;

use crate::redact::{self, MASK};

/// The command line that started this process, quoted for a shell and
/// with its secrets masked.
pub(crate) fn shown() -> String {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    shown_from(&args)
}

/// [`shown`] for these arguments (the program's own name left out).
fn shown_from(args: &[String]) -> String {
    let mut line = String::from("batch-fetch");
    let mut takes = Value::Plain;
    for arg in args {
        let masked = match takes {
            Value::Header => redact::header_arg(arg),
            Value::Proxy => proxy(arg),
            Value::Plain => masked_option(arg),
        };
        takes = match arg.as_str() {
            "-H" | "--header" => Value::Header,
            "--proxy" => Value::Proxy,
            _ => Value::Plain,
        };
        line.push(' ');
        line.push_str(&quoted(&masked));
    }
    line
}

/// What the next argument is the value of.
#[derive(Clone, Copy)]
enum Value {
    Header,
    Proxy,
    Plain,
}

/// An argument that is not the value of the one before it: an option
/// with its value glued on (`-HName: v`, `--header=..`, `--proxy=..`),
/// or anything else, URLs included.
fn masked_option(arg: &str) -> Cow<'_, str> {
    if let Some(value) = arg.strip_prefix("--header=") {
        return Cow::Owned(format!("--header={}", redact::header_arg(value)));
    }
    if let Some(value) = arg.strip_prefix("--proxy=") {
        return Cow::Owned(format!("--proxy={}", proxy(value)));
    }
    if let Some(value) = arg.strip_prefix("-H").filter(|v| !v.is_empty()) {
        return Cow::Owned(format!("-H{}", redact::header_arg(value)));
    }
    redact::userinfo(arg)
}

/// A proxy's URL, which may come without a scheme (`user:pw@host:port`).
fn proxy(arg: &str) -> Cow<'_, str> {
    if arg.contains("://") {
        return redact::userinfo(arg);
    }
    let authority_end = arg.find(['/', '?', '#']).unwrap_or(arg.len());
    match arg[..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!("{MASK}{}", &arg[at..])),
        None => Cow::Borrowed(arg),
    }
}

/// An argument quoted for a POSIX shell when it needs to be.
fn quoted(arg: &str) -> Cow<'_, str> {
    if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || "'\"\\$`*?&;|<>()".contains(c))
    {
        Cow::Owned(format!("'{}'", arg.replace('\'', "'\\''")))
    } else {
        Cow::Borrowed(arg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(args: &[&str]) -> String {
        shown_from(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn secrets_are_masked_and_the_rest_kept() {
        assert_eq!(
            shown(&[
                "-H",
                "Authorization: Bearer abc",
                "--header",
                "Accept: text/plain",
                "--proxy",
                "http://u:p@127.0.0.1:8080",
                "-c",
                "4",
                "urls.txt",
            ]),
            "batch-fetch -H 'Authorization: ***' --header 'Accept: text/plain' --proxy 'http://***@127.0.0.1:8080' -c 4 urls.txt"
        );
        assert_eq!(
            shown(&[
                "--header=Cookie: a=b",
                "-HX-Api-Key: k",
                "--proxy=u:p@h:1",
                "--proxy",
                "u:p@h:1"
            ]),
            "batch-fetch '--header=Cookie: ***' '-HX-Api-Key: ***' '--proxy=***@h:1' --proxy '***@h:1'"
        );
        assert_eq!(shown(&["it's"]), "batch-fetch 'it'\\''s'");
    }
}
