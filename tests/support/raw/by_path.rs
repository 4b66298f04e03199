//! The faults a [`Behavior::ByPath`] server acts out, named by the request
//! path: one server and one batch can mix well-behaved answers with resets,
//! garbage, truncated and endless answers, drips, silence, oversized heads,
//! `Retry-After` statuses and HTTP/1.0.
//!
//! | path | answer |
//! |---|---|
//! | `/ok/{tag}` | `200`, body `{tag}`, keep-alive |
//! | `/fault/reset/before-head` | [`Behavior::ResetBeforeResponse`] |
//! | `/fault/reset/mid-head` | half a status line and header, then RST |
//! | `/fault/reset/mid-body` | head with `Content-Length: 100`, 10 bytes, RST |
//! | `/fault/close/before-response` | [`Behavior::CloseBeforeResponse`] |
//! | `/fault/garbage` | [`Behavior::Garbage`] |
//! | `/fault/truncated/length` | [`Behavior::TruncatedLength`] |
//! | `/fault/truncated/chunked` | [`Behavior::TruncatedChunked`] |
//! | `/fault/drip/{ms}` | a valid `200` (body `dripped`), one byte every `{ms}` ms, keep-alive |
//! | `/fault/never` | [`Behavior::NeverAnswer`] |
//! | `/fault/huge-header/{bytes}` | one header value of `{bytes}` bytes |
//! | `/fault/many-headers/{n}` | `{n}` header fields |
//! | `/fault/endless-headers/{len}` | header lines of `{len}`-byte values for ever ([`ENDLESS_CAP`]) |
//! | `/fault/endless-body/{chunked,close,length}` | a body for ever ([`ENDLESS_CAP`]): chunked, close-delimited, or announced as [`ENDLESS_CAP`] bytes |
//! | `/fault/status/{code}/{times}/{form}/...` | the first `{times}` requests to this exact target: `{code}` with `Retry-After` in `{form}`; later `200 ok` |
//! | `/fault/http10/{length,close,keep-alive}` | an `HTTP/1.0 200` (body `hello 1.0`) |
//! | `/fault/overlong/{response,garbage}` | `Content-Length: 5`, body `hello`, then in the same write more bytes: a whole second response (body `POISON`) nobody asked for, or bytes that are not HTTP; keep-alive |
//! | `/fault/content-length/differ` | two `Content-Length` fields, `5` and `6`, body `hello`, keep-alive |
//! | `/fault/content-length/{same,list}` | `Content-Length: 5` twice, as two fields or as `5, 5`; body `hello`, keep-alive |
//! | `/fault/cl-te/{n}` | `Content-Length: {n}` and `Transfer-Encoding: chunked`; chunked body `hello`, keep-alive |
//! | `/fault/informational/{100,103,many}` | `100 Continue`, `103 Early Hints`, or five 1xx answers (100, 102, 103, 103, 199), then `200` body `hello`, keep-alive |
//! | anything else | `404` |
//!
//! `Retry-After` forms: `secs-{n}`, `date-in-{n}` (an HTTP-date `{n}` s
//! ahead), `date-past`, `garbage`, `huge` (`999999999`), `none` (no header).
use std::time::{Duration, SystemTime};

use tokio::net::TcpStream;

use super::super::http_date;
use super::{Behavior, Next, RawStats, act, drip, keep_alive_if, reset, send, send_and_close};

/// What an endless head or body pushes at most before giving up.
pub const ENDLESS_CAP: u64 = 64 << 20;

/// Acts out the fault `target` names, for the request to it that follows
/// `seen_before` others, on connection `conn`.
pub(super) async fn act_out(
    stream: &mut TcpStream,
    target: &str,
    seen_before: usize,
    stats: &RawStats,
    conn: usize,
) -> Next {
    let path = target.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
    match parts.as_slice() {
        ["ok", tag] => respond(stream, "200 OK", "", tag).await,
        ["fault", "reset", "before-head"] => {
            act(stream, Behavior::ResetBeforeResponse, conn, 1).await
        }
        ["fault", "reset", "mid-head"] => {
            if send(stream, b"HTTP/1.1 200 OK\r\nContent-Le").await {
                // Let the client read the half head before the reset.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            reset(stream)
        }
        ["fault", "reset", "mid-body"] => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
            if send(stream, head).await {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            reset(stream)
        }
        ["fault", "close", "before-response"] => {
            act(stream, Behavior::CloseBeforeResponse, conn, 1).await
        }
        ["fault", "garbage"] => act(stream, Behavior::Garbage, conn, 1).await,
        ["fault", "truncated", "length"] => act(stream, Behavior::TruncatedLength, conn, 1).await,
        ["fault", "truncated", "chunked"] => act(stream, Behavior::TruncatedChunked, conn, 1).await,
        ["fault", "drip", _] => {
            let every = Duration::from_millis(num(2).unwrap_or(100));
            let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ndripped";
            keep_alive_if(drip(stream, resp, every).await)
        }
        ["fault", "never"] => act(stream, Behavior::NeverAnswer, conn, 1).await,
        ["fault", "huge-header", _] => {
            let value = "v".repeat(num(2).unwrap_or(100_000) as usize);
            respond(stream, "200 OK", &format!("X-Huge: {value}\r\n"), "ok").await
        }
        ["fault", "many-headers", _] => {
            let headers: String = (0..num(2).unwrap_or(1000))
                .map(|i| format!("X-Many-{i}: {i}\r\n"))
                .collect();
            respond(stream, "200 OK", &headers, "ok").await
        }
        ["fault", "endless-headers", _] => {
            let line = format!(
                "X-Endless: {}\r\n",
                "e".repeat(num(2).unwrap_or(1000) as usize)
            );
            endless(
                stream,
                target,
                stats,
                b"HTTP/1.1 200 OK\r\n",
                line.as_bytes(),
            )
            .await
        }
        ["fault", "endless-body", framing] => {
            let block = vec![b'b'; 16 * 1024];
            match *framing {
                "chunked" => {
                    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                    let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
                    chunk.extend_from_slice(&block);
                    chunk.extend_from_slice(b"\r\n");
                    endless(stream, target, stats, head, &chunk).await
                }
                "close" => {
                    let head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
                    endless(stream, target, stats, head, &block).await
                }
                _ => {
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {ENDLESS_CAP}\r\n\r\n");
                    endless(stream, target, stats, head.as_bytes(), &block).await
                }
            }
        }
        ["fault", "status", code, _, form, ..] => {
            let times = num(3).unwrap_or(1) as usize;
            if seen_before >= times {
                return respond(stream, "200 OK", "", "ok").await;
            }
            let retry_after = match *form {
                "none" => None,
                "date-past" => Some(http_date(SystemTime::now() - Duration::from_secs(3600))),
                "garbage" => Some("soon, maybe".to_string()),
                "huge" => Some("999999999".to_string()),
                f => {
                    if let Some(n) = f.strip_prefix("secs-") {
                        Some(n.to_string())
                    } else {
                        let n: u64 = f
                            .strip_prefix("date-in-")
                            .unwrap_or("1")
                            .parse()
                            .unwrap_or(1);
                        Some(http_date(SystemTime::now() + Duration::from_secs(n)))
                    }
                }
            };
            let headers = retry_after.map_or(String::new(), |v| format!("Retry-After: {v}\r\n"));
            respond(stream, &format!("{code} Fault"), &headers, code).await
        }
        ["fault", "http10", "length"] => {
            send_and_close(
                stream,
                b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nhello 1.0",
            )
            .await
        }
        ["fault", "http10", "close"] => {
            let answer = b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nhello 1.0";
            send_and_close(stream, answer).await
        }
        ["fault", "http10", "keep-alive"] => {
            let answer =
                b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 9\r\n\r\nhello 1.0";
            keep_alive_if(send(stream, answer).await)
        }
        ["fault", "overlong", stray] => {
            // The stray bytes would be the answer to the next request if
            // the client read it from this connection.
            let stray: &[u8] = match *stray {
                "response" => b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON",
                _ => b"EXTRA GARBAGE \x00\x01 not a response\r\n\r\n",
            };
            let answer = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", stray].concat();
            keep_alive_if(send(stream, &answer).await)
        }
        ["fault", "content-length", form] => {
            let fields = match *form {
                "differ" => "Content-Length: 5\r\nContent-Length: 6\r\n",
                "same" => "Content-Length: 5\r\nContent-Length: 5\r\n",
                _ => "Content-Length: 5, 5\r\n",
            };
            let answer = format!("HTTP/1.1 200 OK\r\n{fields}\r\nhello");
            keep_alive_if(send(stream, answer.as_bytes()).await)
        }
        ["fault", "cl-te", _] => {
            // Were the Content-Length taken (when below 5), the rest of the
            // chunked body would be read as the next response.
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n",
                num(2).unwrap_or(3)
            );
            keep_alive_if(send(stream, answer.as_bytes()).await)
        }
        ["fault", "informational", which] => {
            let early = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
            let interim = match *which {
                "100" => "HTTP/1.1 100 Continue\r\n\r\n".to_string(),
                "103" => early.to_string(),
                _ => format!(
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n\
                     {early}{early}HTTP/1.1 199 Whatever\r\nX-Interim: 1\r\n\r\n"
                ),
            };
            let answer = format!("{interim}HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
            keep_alive_if(send(stream, answer.as_bytes()).await)
        }
        _ => respond(stream, "404 Not Found", "", "no such fault").await,
    }
}

/// Writes a keep-alive response.
async fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &str) -> Next {
    let resp = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    keep_alive_if(send(stream, resp.as_bytes()).await)
}

/// Writes `head`, then `unit` over and over until the client leaves or
/// [`ENDLESS_CAP`] bytes went out; records the bytes pushed for `target`.
async fn endless(
    stream: &mut TcpStream,
    target: &str,
    stats: &RawStats,
    head: &[u8],
    unit: &[u8],
) -> Next {
    let mut pushed = 0u64;
    if send(stream, head).await {
        while pushed < ENDLESS_CAP && send(stream, unit).await {
            pushed += unit.len() as u64;
        }
    }
    stats
        .pushed
        .lock()
        .unwrap()
        .insert(target.to_string(), pushed);
    Next::Close
}
