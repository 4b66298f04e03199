#!/usr/bin/env python3
"""The Spark recipe (spark/crawl.py) run for real, against loopback origins
that count what they are sent (spark/counting_server.py).

    python spark/test_crawl.py --tool target/release/batch-fetch [--work DIR]

Spark runs in local mode with several task threads, on loopback only. The
test checks:

1. Every input gets exactly one line in the output, the right one.
2. No origin ever has more requests in flight than --per-host allows,
   although several partitions fetch at once (and most origins do reach
   the limit, so the check checks something).
3. A task killed mid-partition (its Python worker and its batch-fetch,
   SIGKILL) is retried by Spark, resumes from its journal: no input is
   lost or repeated in the output, no input the killed attempt finished is
   fetched again.
4. The same inputs split between the same number of workers by line
   instead of by origin do exceed the limit: the counts see an excess when
   there is one.

Then it measures the same crawl in one batch-fetch process and as N Spark
tasks (docs/spark.md has a run's figures). Exit status 0 when every check
holds; the report goes to stdout.
"""

import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from counting_server import CountingServer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tool", required=True, help="the batch-fetch binary")
    parser.add_argument("--work", help="directory for the files (default: a temporary one, removed)")
    parser.add_argument("--inputs", type=int, default=4000, help="URLs of the crawl")
    parser.add_argument("--origins", type=int, default=32, help="loopback origins")
    parser.add_argument("--shards", type=int, default=8, help="partitions (shards)")
    parser.add_argument("--threads", type=int, default=8, help="Spark task threads (local[T,2])")
    parser.add_argument("--per-host", type=int, default=4, help="batch-fetch --per-host")
    parser.add_argument("--concurrency", type=int, default=256, help="batch-fetch -c")
    parser.add_argument("--delay-ms", type=float, default=20, help="each origin's time to answer")
    parser.add_argument(
        "--compare-delay-ms",
        type=float,
        default=100,
        help="the same, for the comparison (long enough for the Python origins to keep up)",
    )
    parser.add_argument("--kill-after", type=int, default=40, help="answers the killed task gets first")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed to each Spark run")
    return parser.parse_args()


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def say(text=""):
    print(text, flush=True)


# The crawl's inputs --------------------------------------------------------


def write_inputs(path, origins, count, closed_port):
    """Writes the crawl's file; returns {line number: (text, expected)}
    for the lines that hold an input. `expected` is a status (200, 404) or
    an error kind."""
    rng = random.Random(20)
    lines, expected = ["# a crawl for the Spark test: blank lines and this comment hold no input"], {}

    def add(text, outcome):
        lines.append(text)
        expected[len(lines)] = (text, outcome)

    for i in range(count):
        add(f"http://{rng.choice(origins)}/item/{i}", 200)
        if i % 500 == 250:
            lines.append("")
        if i % 200 == 100:
            add(f"  http://{rng.choice(origins)}/missing/{i}  ", 404)
    add("not a url", "invalid_request")
    add(f"http://127.0.0.9:{closed_port}/item/refused", "connect")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
    return expected


def closed_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.9", 0))
        return s.getsockname()[1]


def shards_of(tool, path, n, expected):
    """{line number: shard} for the input lines, as the tool computes it."""
    out = subprocess.run([tool, "--shard-key", str(n), path], check=True, capture_output=True).stdout
    printed = out.decode().splitlines()
    check(len(printed) == len(expected), f"--shard-key printed {len(printed)} lines for {len(expected)} inputs")
    shards = {}
    for line_no, row in zip(sorted(expected), printed):
        shard, _, text = row.partition("\t")
        check(text == expected[line_no][0], f"--shard-key line {row!r} is not input line {line_no}")
        shards[line_no] = int(shard)
    return shards


def origin_of(text):
    text = text.strip()
    if not text.startswith("http://"):
        return None
    return text[len("http://") :].split("/", 1)[0]


# Running the crawl ---------------------------------------------------------


def spark_command(args, urls, out, journal, python):
    return [
        python,
        os.path.join(HERE, "crawl.py"),
        urls,
        out,
        "--shards",
        str(args.shards),
        "--journal",
        journal,
        "--batch-fetch",
        args.tool,
        "--master",
        f"local[{args.threads},2]",  # 2: a failed task is tried once more
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.log.level=WARN",
        "--",
        "--per-host",
        str(args.per_host),
        "-c",
        str(args.concurrency),
        "--retries",
        "1",
    ]


def run_spark(args, command, log_path, killer=None):
    """Runs the job; returns its wall time. Its stderr goes to log_path."""
    began = time.monotonic()
    with open(log_path, "wb") as log:
        job = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=spark_env())
        if killer is not None:
            killer.start()
        try:
            status = job.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            job.kill()
            job.wait()
            raise Failed(f"the Spark job took more than {args.timeout:.0f} s (its log: {log_path})")
    wall = time.monotonic() - began
    if killer is not None:
        killer.join(timeout=30)
    if status != 0:
        with open(log_path, errors="replace") as log:
            tail = log.read()[-4000:]
        raise Failed(f"the Spark job exited with status {status}; its log ends:\n{tail}")
    return wall


def spark_env():
    env = dict(os.environ)
    # Spark on loopback only, whatever the machine's name resolves to.
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env["SPARK_LOCAL_HOSTNAME"] = "localhost"
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


def read_output(out):
    rows = []
    for part in sorted(glob.glob(os.path.join(out, "part-*"))):
        with open(part) as f:
            rows.extend(json.loads(line) for line in f if line.strip())
    return rows


class Killer(threading.Thread):
    """Kills the task of one shard once its gate holds: its Python worker
    (SIGKILL), which takes its batch-fetch with it; then releases the gate."""

    def __init__(self, server, gate, journal, tool):
        super().__init__(name="killer", daemon=True)
        self.server, self.gate, self.journal, self.tool = server, gate, journal, tool
        self.error = None
        self.report = {}

    def run(self):
        try:
            self._kill()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.server.release()

    def _kill(self):
        if not self.gate.holding.wait(timeout=240):
            raise Failed("the shard to kill never reached its gate")
        # Its answers before the gate are in the journal once the tool has
        # printed them; the gated origins' lines are what must be there.
        deadline = time.monotonic() + 20
        while True:
            gated = [row for row in journal_rows(self.journal) if origin_of(row["url"] or "") in self.gate.origins]
            if len(gated) >= self.gate.after:
                break
            check(time.monotonic() < deadline, f"the journal has {len(gated)} gated lines, not {self.gate.after}")
            time.sleep(0.01)
        fetcher = find_fetcher(self.tool, self.journal)
        worker = parent_of(fetcher)
        self.report.update(fetcher=fetcher, worker=worker)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while alive(fetcher):
            check(time.monotonic() < deadline, "the killed task's batch-fetch outlived it by 5 s")
            time.sleep(0.01)
        rows = journal_rows(self.journal)
        self.report.update(finished=[row["line"] for row in rows], urls={row["url"] for row in rows})


def journal_rows(path):
    rows = []
    try:
        with open(path, "rb") as f:
            for raw in f:
                try:
                    row = json.loads(raw)
                except ValueError:
                    continue  # torn
                if (row.get("error") or {}).get("kind") != "cancelled":
                    rows.append(row)
    except FileNotFoundError:
        pass
    return rows


def find_fetcher(tool, journal):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0].decode(errors="replace")) == os.path.basename(tool):
            if journal.encode() in argv:
                return int(pid)
    raise Failed(f"no batch-fetch running with {journal}")


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# The checks -----------------------------------------------------------------


def check_output(rows, expected):
    by_line = {}
    for row in rows:
        check(row["line"] not in by_line, f"line {row['line']} has two results")
        by_line[row["line"]] = row
    missing = sorted(set(expected) - set(by_line))
    extra = sorted(set(by_line) - set(expected))
    check(not missing, f"{len(missing)} input(s) without a result, from line {missing[:1]}")
    check(not extra, f"results for lines that hold no input: {extra[:5]}")
    for line_no, (text, outcome) in expected.items():
        row = by_line[line_no]
        check(row["url"] == text.strip(), f"line {line_no}: result for {row['url']!r}, not {text!r}")
        got = row["status"] if isinstance(outcome, int) else (row["error"] or {}).get("kind")
        check(got == outcome, f"line {line_no} ({text!r}): {got!r}, not {outcome!r}")
    return len(by_line)


def check_limit(server, per_host, fetched):
    peaks = [origin.peak for origin in server.origins if origin.requests]
    check(peaks, "no origin was sent anything")
    worst = max(peaks)
    check(worst <= per_host, f"an origin had {worst} requests in flight; --per-host is {per_host}")
    at_limit = sum(peak == per_host for peak in peaks)
    check(
        at_limit * 2 >= len(peaks),
        f"only {at_limit} of {len(peaks)} origins reached the limit: the check checks too little",
    )
    check(server.wrong_host == 0, f"{server.wrong_host} request(s) with the wrong Host")
    check(sum(origin.requests for origin in server.origins) >= fetched, "fewer requests than inputs")
    return worst, at_limit, len(peaks)


def fetch_span(server):
    firsts = [o.first for o in server.origins if o.first is not None]
    lasts = [o.last for o in server.origins if o.last is not None]
    return max(lasts) - min(firsts)


# The test -------------------------------------------------------------------


def main():
    args = parse_args()
    python = sys.executable
    work = args.work or tempfile.mkdtemp(prefix="batch-fetch-spark-")
    os.makedirs(work, exist_ok=True)
    server = CountingServer(args.origins, args.delay_ms / 1000)
    began = time.monotonic()
    try:
        test(args, python, work, server)
    except Failed as e:
        say(f"\nFAILED: {e}")
        say(f"(files in {work})")
        return 1
    finally:
        server.stop()
    say(f"\nall checks hold ({time.monotonic() - began:.0f} s)")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def check_journal(work):
    """The journal's rules, without Spark: a torn last line is cut before
    more is written; the final line of each input is its last one that is
    neither torn nor cancelled; an input without one fails the task."""
    import crawl

    path = os.path.join(work, "journal-check.jsonl")

    def line(n, kind=None, url="u"):
        error = {"kind": kind, "message": "m"} if kind else None
        return json.dumps({"index": n - 1, "line": n, "input_hash": "0", "url": url, "error": error}) + "\n"

    with open(path, "w") as f:
        f.write(line(1) + line(2, "cancelled") + line(3, "timeout") + '{"index":1,"li')
    with open(path, "ab") as log:
        crawl._cut_torn_line(log)
        log.write(line(2).encode())
    with open(path) as f:
        kept = f.read().splitlines()
    check(len(kept) == 4 and json.loads(kept[-1])["line"] == 2, f"the torn line was not cut: {kept}")
    final = [json.loads(text) for text in crawl._final_lines(path, [10, 20, 30])]
    check([row["line"] for row in final] == [10, 20, 30], f"final lines {final}")
    check(final[1]["error"] is None and final[2]["error"]["kind"] == "timeout", f"final lines {final}")
    try:
        list(crawl._final_lines(path, [10, 20, 30, 40]))
    except RuntimeError as e:
        check("1 input(s) without a final line, from line 4" in str(e), f"wrong complaint: {e}")
    else:
        raise Failed("an input without a final line went unnoticed")
    say("[0] the journal: a torn last line cut, cancelled lines done again, a missing line fails the task")


def test(args, python, work, server):
    check_journal(work)
    urls = os.path.join(work, "urls.txt")
    names = [origin.name for origin in server.origins]
    expected = write_inputs(urls, names, args.inputs, closed_port())
    shard_of_line = shards_of(args.tool, urls, args.shards, expected)
    shard_of_origin = {}
    for line_no, shard in shard_of_line.items():
        origin = origin_of(expected[line_no][0])
        if origin in server.by_name():
            check(shard_of_origin.setdefault(origin, shard) == shard, f"origin {origin} in two shards")
    per_shard = {}
    for shard in shard_of_line.values():
        per_shard[shard] = per_shard.get(shard, 0) + 1
    say(
        f"crawl: {len(expected)} inputs on {sum(1 for t in expected.values() if origin_of(t[0]))} URLs "
        f"over {len(names)} loopback origins (127.0.0.10 on, each answering in {args.delay_ms:.0f} ms), "
        f"a line that is no URL and one refused origin; {args.shards} shards of "
        f"{min(per_shard.values())} to {max(per_shard.values())} inputs; "
        f"Spark local[{args.threads},2]; batch-fetch --per-host {args.per_host} -c {args.concurrency}"
    )

    # 1-3: the crawl under Spark, one task killed mid-partition.
    victim = max(
        set(shard_of_origin.values()),
        key=lambda s: sum(1 for o, t in shard_of_origin.items() if t == s),
    )
    gated = {o for o, s in shard_of_origin.items() if s == victim}
    gate = server.hold(gated, args.kill_after)
    server.group(shard_of_origin)
    journal = os.path.join(work, "journal")
    out = os.path.join(work, "out")
    killer = Killer(server, gate, os.path.join(journal, f"shard-{victim}-of-{args.shards}.jsonl"), args.tool)
    log = os.path.join(work, "spark-kill.log")
    wall = run_spark(args, spark_command(args, urls, out, journal, python), log, killer)
    if killer.error is not None:
        raise killer.error if isinstance(killer.error, Failed) else Failed(repr(killer.error))
    rows = read_output(out)
    results = check_output(rows, expected)
    worst, at_limit, origins_used = check_limit(server, args.per_host, len(rows))
    at_once = server.groups_peak
    check(at_once >= 2, "the shards never fetched at the same time")
    say("\n[1-3] Spark, one task killed mid-partition")
    say(f"  inputs {len(expected)}, results {results} (one per input: none missing, none twice, each the right one)")
    say(
        f"  per-origin peak in flight: {worst} (limit {args.per_host}); {at_limit} of {origins_used} origins "
        f"reached the limit; up to {at_once} shards fetching at once"
    )
    say(f"  job wall time {wall:.1f} s; log {os.path.basename(log)}")

    # The kill and the resume.
    finished = killer.report["finished"]
    with open(log, errors="replace") as f:
        text = f.read()
    resumed = [int(n) for n in _find_all(text, "batch-fetch: ", " input(s) finished in ", journal_name(args, victim))]
    check(resumed, f"no resumed attempt of shard {victim} in the log")
    check(resumed[-1] == len(finished), f"the retry skipped {resumed[-1]} inputs; the journal held {len(finished)}")
    check(len(resumed) == 2 and resumed[0] == 0, f"shard {victim}'s attempts skipped {resumed}, not [0, n]")
    again = {path: n for path, n in server.paths.items() if n > 1}
    finished_paths = {"/" + url.split("/", 3)[3] for url in killer.report["urls"] if origin_of(url or "") in gated}
    check(not (set(again) & finished_paths), f"finished inputs fetched again: {sorted(set(again) & finished_paths)[:5]}")
    victim_paths = {
        "/" + expected[n][0].strip().split("/", 3)[3] for n, s in shard_of_line.items() if s == victim and origin_of(expected[n][0])
    }
    check(set(again) <= victim_paths, "inputs of other shards were fetched twice")
    held = len(again)
    check(held <= args.per_host * len(gated), f"{held} inputs fetched twice: more than could be in flight")
    rows_victim = sum(1 for n, s in shard_of_line.items() if s == victim)
    say(f"  shard {victim} ({rows_victim} inputs, {len(gated)} origins): its task killed after {len(finished)} lines in its")
    say(f"  journal (SIGKILL to its Python worker {killer.report['worker']}; its batch-fetch {killer.report['fetcher']} died with it)")
    say(f"  Spark retried it; the retry's batch-fetch said: {resumed[-1]} input(s) finished in {journal_name(args, victim)}: skipped")
    say(f"  fetched twice: {held} inputs (those in flight at the kill); finished before the kill and fetched again: 0")

    # 4: the counts see an excess when there is one.
    server.reset()
    split = split_by_line(urls, args.shards, work)
    began = time.monotonic()
    workers = [
        subprocess.Popen(
            [args.tool, "--per-host", str(args.per_host), "-c", str(args.concurrency), "--retries", "1", part],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for part in split
    ]
    for worker in workers:
        check(worker.wait(timeout=args.timeout) in (0, 1), "a worker over a split by line failed")
    control = max(origin.peak for origin in server.origins)
    check(control > args.per_host, f"split by line, the peak was {control}: the counts missed an excess")
    say(f"\n[4] the same inputs split by line between {args.shards} workers at once, not by origin:")
    say(f"  per-origin peak {control} (limit {args.per_host}: exceeded, as it must be; the counts see it)")
    say(f"  wall {time.monotonic() - began:.1f} s")

    # The comparison: one process, then N Spark tasks (no kill).
    server.reset()
    server.delay = args.compare_delay_ms / 1000
    began = time.monotonic()
    with open(os.path.join(work, "one-process.jsonl"), "wb") as sink:
        status = subprocess.run(
            [args.tool, "--per-host", str(args.per_host), "-c", str(args.concurrency), "--retries", "1", urls],
            stdout=sink,
            stderr=subprocess.DEVNULL,
            timeout=args.timeout,
        ).returncode
    one_wall = time.monotonic() - began
    check(status in (0, 1), f"one process: status {status}")
    one = (one_wall, fetch_span(server), max(o.peak for o in server.origins))
    server.reset()
    out2 = os.path.join(work, "out-compare")
    spark_wall = run_spark(
        args,
        spark_command(args, urls, out2, os.path.join(work, "journal-compare"), python),
        os.path.join(work, "spark-compare.log"),
    )
    check(len(read_output(out2)) == len(expected), "the comparison's Spark run lost inputs")
    spark = (spark_wall, fetch_span(server), max(o.peak for o in server.origins))
    n = len(expected)
    say(
        f"\ncomparison, {n} inputs, origins answering in {args.compare_delay_ms:.0f} ms, the same options "
        f"(wall: the whole run; fetching: first request to last answer):"
    )
    say("  | run | wall | fetching | inputs/s (wall) | inputs/s (fetching) | per-origin peak |")
    say("  |---|---|---|---|---|---|")
    for name, (w, f, peak) in (("one batch-fetch process", one), (f"Spark, {args.shards} tasks", spark)):
        say(f"  | {name} | {w:.2f} s | {f:.2f} s | {n / w:.0f} | {n / f:.0f} | {peak} (limit {args.per_host}) |")


def journal_name(args, shard):
    return f"shard-{shard}-of-{args.shards}.jsonl"


def _find_all(text, before, after, also):
    """The words between `before` and `after` on lines that contain `also`."""
    found = []
    for line in text.splitlines():
        if also in line and before in line and after in line:
            found.append(line.split(before, 1)[1].split(after, 1)[0])
    return found


def split_by_line(urls, n, work):
    with open(urls) as f:
        lines = f.read().splitlines()
    paths = []
    for k in range(n):
        path = os.path.join(work, f"by-line-{k}.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines[k::n]) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":
    sys.exit(main())
