#!/usr/bin/env python3
"""Crawl a file of URLs with batch-fetch under Apache Spark, sharded by origin.

    python spark/crawl.py URLS OUT --shards N --journal DIR \\
        [--master local[4,2]] [--conf key=value ...] [--batch-fetch PATH] \\
        -- --per-host 4 [other batch-fetch options]

or the same through `spark-submit spark/crawl.py ...` on a cluster.

1. Each line of URLS gets its shard from the tool itself
   (`batch-fetch --shard-key N`), so the split is the one `--shard K/N`
   makes, whatever the URL's spelling (docs/sharding.md).
2. The lines are shuffled to partition K = shard K, sorted by line number
   within it: every input of one origin lands in one partition, so the
   tool's `--per-host` and `--per-host-rate` hold for the whole crawl.
3. Each partition's task runs one `batch-fetch` over its inputs and keeps
   every line it prints in a journal, DIR/shard-K-of-N.jsonl. A task that
   dies (a lost executor, a killed worker) is retried by Spark; the retry
   passes the journal to `--resume`, so what the dead attempt finished is
   neither fetched again nor lost.
4. The task's output is the journal's final line for each of its inputs,
   with "line" turned into the line number in URLS; OUT gets exactly one
   JSON line per input (Spark keeps only a successful attempt's output).

DIR must be storage that every executor sees (the retry may run on another
machine), and belongs to one crawl of one URLS with one N: delete it to
start a crawl again from nothing. docs/spark.md says more.
"""

import argparse
import collections
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading

# Options the job sets itself.
RESERVED = ("--shard", "--shard-key", "--resume")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Crawl URLS with batch-fetch under Spark, sharded by origin.",
        epilog="Options after -- go to batch-fetch (e.g. -- --per-host 4 -c 64).",
    )
    parser.add_argument("input", metavar="URLS", help="file of inputs, one per line (any path Spark reads)")
    parser.add_argument("output", metavar="OUT", help="directory for the JSON lines (Spark's saveAsTextFile)")
    parser.add_argument("--shards", type=int, required=True, metavar="N", help="partitions, one per shard")
    parser.add_argument(
        "--journal",
        required=True,
        metavar="DIR",
        help="directory for each shard's journal, on storage every executor sees",
    )
    parser.add_argument(
        "--batch-fetch",
        default="batch-fetch",
        metavar="PATH",
        help="the tool, as every executor finds it (default: batch-fetch on the PATH)",
    )
    parser.add_argument("--master", help="Spark master (e.g. local[4,2]); spark-submit's when absent")
    parser.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)"
    )
    ours, _, tool_args = _split_at_dashes(argv)
    args = parser.parse_args(ours)
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    for arg in tool_args:
        if arg.split("=", 1)[0] in RESERVED:
            parser.error(f"{arg.split('=', 1)[0]} is the job's to set, not an option to pass to batch-fetch")
    args.tool_args = tool_args
    return args


def _split_at_dashes(argv):
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], "--", argv[at + 1 :]
    return argv, None, []


def shard_keys(tool, shards):
    """For mapPartitions over (text, index) records: ((shard, index), text)
    for each line that holds an input, as `batch-fetch --shard-key` says.

    The tool prints "shard<TAB>line" for each line that holds an input and
    nothing for the others (blank, comment), in order; each printed line is
    matched with the next fed line of the same text.
    """

    def run(records):
        fed = collections.deque()
        child = _start([tool, "--shard-key", str(shards)])

        def feed():
            try:
                for text, index in records:
                    fed.append((text, index))
                    child.stdin.write(text.encode("utf-8", "surrogateescape") + b"\n")
            finally:
                child.stdin.close()

        with _Feeder(feed) as feeder:
            for printed in child.stdout:
                shard, _, text = printed.rstrip(b"\n").decode("utf-8", "surrogateescape").partition("\t")
                while True:
                    if not fed:
                        raise RuntimeError(f"batch-fetch --shard-key printed a line it was not given: {text!r}")
                    given, index = fed.popleft()
                    if given == text:
                        yield (int(shard), index), text
                        break
            feeder.join()
        _check_exit(child, "batch-fetch --shard-key", ok=(0,))

    return run


def fetch(tool, tool_args, journal_dir, shards):
    """For mapPartitionsWithIndex over ((shard, index), text) records
    sorted by index: one batch-fetch over the partition's inputs, resumed
    from its journal; yields one JSON line per input."""

    def run(partition, records):
        from pyspark import TaskContext

        context = TaskContext.get()
        attempt = context.attemptNumber() if context is not None else 0
        sys.stderr.write(f"crawl: shard {partition} of {shards}, attempt {attempt}\n")
        sys.stderr.flush()
        journal = os.path.join(journal_dir, f"shard-{partition}-of-{shards}.jsonl")
        with open(journal, "ab") as log:
            # One attempt at a time per shard, should two ever overlap (a
            # speculative copy, a dying attempt on a lost executor): two
            # would break the per-host limit and both write the journal.
            fcntl.flock(log, fcntl.LOCK_EX)
            _cut_torn_line(log)
            lines = []  # line number in URLS of each input, in the order fed
            child = _start([tool, *tool_args, "--resume", journal], stderr=None)

            def feed():
                try:
                    for (_, index), text in records:
                        lines.append(index + 1)
                        child.stdin.write(text.encode("utf-8", "surrogateescape") + b"\n")
                except BrokenPipeError:
                    pass  # the tool stopped early: its exit status says why
                finally:
                    try:
                        child.stdin.close()
                    except BrokenPipeError:
                        pass

            with _Feeder(feed) as feeder:
                # Each line reaches the journal whole before the next is read.
                for printed in child.stdout:
                    log.write(printed)
                    log.flush()
                feeder.join()
            # 1: some input failed, which its line says; nothing to retry.
            _check_exit(child, "batch-fetch", ok=(0, 1))
            log.flush()
            os.fsync(log.fileno())
        yield from _final_lines(journal, lines)

    return run


def _final_lines(journal, lines):
    """The journal's final line for each input, "line" set to its line
    number in URLS; fails if an input has none (the task is then retried)."""
    last = {}  # the tool's line number -> where its last final line starts
    with open(journal, "rb") as log:
        at = 0
        for raw in log:
            line = _parse(raw)
            if line is not None:
                last[line["line"]] = at
            at += len(raw)
        missing = [n for n in range(1, len(lines) + 1) if n not in last]
        if missing:
            raise RuntimeError(f"{journal}: {len(missing)} input(s) without a final line, from line {missing[0]}")
        for n in range(1, len(lines) + 1):
            log.seek(last[n])
            line = json.loads(log.readline())
            line["line"] = lines[n - 1]
            yield json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def _parse(raw):
    """A final line of the journal, or None (torn, or a cancelled input,
    which a resume does again)."""
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(line, dict) or not isinstance(line.get("line"), int):
        return None
    error = line.get("error")
    if isinstance(error, dict) and error.get("kind") == "cancelled":
        return None
    return line


def _cut_torn_line(log):
    """Cuts a torn last line (a task killed mid-write), so the next line
    written does not glue onto it."""
    end = log.seek(0, os.SEEK_END)
    with open(log.name, "rb") as read:
        at = end
        while at > 0:
            step = min(at, 1 << 16)
            read.seek(at - step)
            block = read.read(step)
            if at == end and block.endswith(b"\n"):
                return  # whole
            newline = block.rfind(b"\n")
            if newline >= 0:
                log.truncate(at - step + newline + 1)
                return
            at -= step
    log.truncate(0)


def _start(command, stderr=subprocess.DEVNULL):
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        preexec_fn=_die_with_parent(),
    )


def _die_with_parent():
    """What the child runs before the tool: ask to be killed when the
    task's process dies, so a killed task leaves no fetcher running beside
    its retry (Linux; elsewhere nothing). Made in the task, not at import:
    Spark ships this module's functions pickled, and a C handle is not."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def in_child():
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return in_child


class _Feeder:
    """Feeds a child's stdin from a thread while the caller reads its
    stdout (as rdd.pipe does), and kills the child if reading fails."""

    def __init__(self, feed):
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(feed,), daemon=True)

    def _run(self, feed):
        try:
            feed()
        except BaseException as e:  # noqa: BLE001 - re-raised by join
            self.error = e

    def __enter__(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join()
        if self.error is not None:
            raise self.error

    def __exit__(self, kind, *_):
        if kind is not None:
            self.thread.join(timeout=1)
        return False


def _check_exit(child, what, ok):
    status = child.wait()
    if status not in ok:
        raise RuntimeError(f"{what} exited with status {status}")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("batch-fetch crawl")
    if args.master:
        builder = builder.master(args.master)
    # A second copy of a task would double the load on its origins.
    builder = builder.config("spark.speculation", "false")
    for setting in args.conf:
        key, sep, value = setting.partition("=")
        if not sep:
            sys.exit(f"--conf {setting!r}: use KEY=VALUE")
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        os.makedirs(args.journal, exist_ok=True)
        sc = spark.sparkContext
        n = args.shards
        keyed = sc.textFile(args.input).zipWithIndex().mapPartitions(shard_keys(args.batch_fetch, n))
        # Partition K holds shard K, in line order: a retry feeds the tool
        # the same lines in the same order, which --resume relies on.
        shards = keyed.repartitionAndSortWithinPartitions(n, partitionFunc=lambda key: key[0])
        shards.mapPartitionsWithIndex(fetch(args.batch_fetch, args.tool_args, args.journal, n)).saveAsTextFile(
            args.output
        )
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
