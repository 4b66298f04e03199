//! `--shard K/N` and `--shard-key N`: N workers given the same file split
//! it by origin, every input on exactly one worker and every origin on
//! one worker only, and the key an engine partitions by is the library's
//! `origin_shard`. `--resume FILE`: a worker started again skips what its
//! earlier run finished.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::num::NonZeroU32;
use std::process::Stdio;

use super::support::TestServer;
use super::{run, tool};

#[test]
fn shard_key_prints_each_input_lines_shard_and_the_line() {
    let input = "http://example.com/a\n# a comment\n\nhttps://example.com/\n\
                 {\"url\":\"http://127.0.0.1:8080/a\"}\n{not json\n";
    let mut child = tool()
        .args(["--shard-key", "16"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sixteen = NonZeroU32::new(16).unwrap();
    let want = format!(
        "11\thttp://example.com/a\n6\thttps://example.com/\n\
         11\t{{\"url\":\"http://127.0.0.1:8080/a\"}}\n{}\t{{not json\n",
        batch_fetch::origin_shard("{not json", sixteen)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_shards_split_a_file_by_origin_with_every_input_once() {
    // Six origins (one server each), eight inputs on each, interleaved.
    let mut servers = Vec::new();
    for _ in 0..6 {
        servers.push(TestServer::start().await);
    }
    let mut input = String::from("# inputs\n");
    for i in 0..8 {
        for server in &servers {
            input.push_str(&server.url(&format!("/id/{i}")));
            input.push('\n');
        }
    }
    let lines: Vec<&str> = input.lines().collect();

    let mut line_of_shard = BTreeMap::new();
    let mut shards_of_origin: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = run(&["--shard", &shard, "--ordered"], &input).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        for (i, line) in out.lines.iter().enumerate() {
            assert_eq!(
                line["index"], i,
                "inputs count from 0 in each shard: {line}"
            );
            assert_eq!(line["status"], 200, "{line}");
            let number = line["line"].as_u64().unwrap();
            let text = lines[number as usize - 1];
            assert_eq!(line["url"], text, "the line number is the file's");
            assert!(
                line_of_shard.insert(number, k).is_none(),
                "line {number} in two shards"
            );
            let origin = batch_fetch::origin_key(text);
            shards_of_origin.entry(origin).or_default().insert(k);
        }
    }
    let inputs: BTreeSet<u64> = (2..=lines.len() as u64).collect();
    let got: BTreeSet<u64> = line_of_shard.keys().copied().collect();
    assert_eq!(got, inputs, "every input in exactly one shard");
    assert_eq!(shards_of_origin.len(), 6);
    for (origin, shards) in &shards_of_origin {
        assert_eq!(shards.len(), 1, "{origin} is split over {shards:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_that_is_not_k_of_n_is_a_usage_error() {
    for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
        let out = run(&["--shard", bad], "").await;
        assert_eq!(out.code, 2, "--shard {bad}: {}", out.stderr);
    }
    let out = run(&["--shard", "0/2", "--shard-key", "2"], "").await;
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_skips_what_an_earlier_run_finished_and_redoes_the_rest() {
    let server = TestServer::start().await;
    let mut input = String::from("# a crawl\n");
    for i in 0..10 {
        input.push_str(&server.url(&format!("/id/{i}")));
        input.push('\n');
    }
    input.push_str(&server.url("/status/404"));
    input.push('\n');
    let first = run(&["--ordered"], &input).await;
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert_eq!(first.lines.len(), 11);

    // A worker killed after four lines, the fifth torn; the sixth input
    // was cancelled (stopped) and is done again; the 404 is a result.
    let text = |v: &serde_json::Value| serde_json::to_string(v).unwrap();
    let mut earlier = String::new();
    for line in &first.lines[..4] {
        earlier.push_str(&text(line));
        earlier.push('\n');
    }
    let mut cancelled = first.lines[5].clone();
    cancelled["error"] = serde_json::json!({"kind": "cancelled", "message": "stopped"});
    cancelled["status"] = serde_json::Value::Null;
    earlier.push_str(&text(&cancelled));
    earlier.push('\n');
    earlier.push_str(&text(&first.lines[10]));
    earlier.push('\n');
    let torn = text(&first.lines[4]);
    earlier.push_str(&torn[..torn.len() / 2]);
    let dir = std::env::temp_dir().join(format!("bf-cli-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.jsonl");
    std::fs::write(&path, &earlier).unwrap();

    let second = run(&["--ordered", "--resume", path.to_str().unwrap()], &input).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let redone: Vec<u64> = second
        .lines
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    // Lines 2-5 and the 404 (line 12) were finished; 6 was torn, 7 cancelled.
    assert_eq!(redone, [6, 7, 8, 9, 10, 11], "{}", second.stderr);
    for line in &second.lines {
        assert_eq!(line["status"], 200, "{line}");
        let number = line["line"].as_u64().unwrap() as usize;
        let first_line = &first.lines[number - 2];
        assert_eq!(line["input_hash"], first_line["input_hash"]);
    }
    assert!(
        second.stderr.contains("5 input(s) finished"),
        "{}",
        second.stderr
    );

    // Other inputs at the same lines are not taken for finished (but the
    // one line left as it was, the 404, still is).
    let other = input.replace("/id/", "/id/x");
    let third = run(&["--ordered", "--resume", path.to_str().unwrap()], &other).await;
    let lines: Vec<u64> = third
        .lines
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, (2..=11).collect::<Vec<u64>>(), "{}", third.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}
