"""Loopback HTTP/1.1 origins that count what they are sent, for the Spark test.

Each origin listens on an address of its own (127.0.0.10, 127.0.0.11, ...)
and answers each request after a delay: /item/N with 200, /missing/N with
404. It counts the requests in flight on it (one from the moment its head
is read until its answer is written, or until the client leaves), and
keeps the highest count seen; every path's requests are counted too.

A gate holds the answers of some origins once a number of them have been
sent, until released: a test stops a crawl's task at a known point that
way, with nothing of it finished after that point.
"""

import asyncio
import threading
import time


class Origin:
    def __init__(self, name):
        self.name = name  # "127.0.0.10:port", as the Host header says it
        self.in_flight = 0
        self.peak = 0
        self.requests = 0
        self.abandoned = 0  # requests whose client left before the answer
        self.first = None  # monotonic time of the first request
        self.last = None  # ... and of the last answer

    def begin(self):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.requests += 1
        if self.first is None:
            self.first = time.monotonic()

    def end(self):
        self.in_flight -= 1
        self.last = time.monotonic()


class Gate:
    def __init__(self, origins, after):
        self.origins = set(origins)
        self.after = after
        self.sent = 0
        self.released = asyncio.Event()
        self.holding = threading.Event()  # set once an answer is held


class CountingServer:
    def __init__(self, count, delay, first_address=10):
        if first_address + count > 255:
            raise ValueError("too many origins for 127.0.0.x")
        self.delay = delay
        self.paths = {}  # path -> requests received
        self.wrong_host = 0
        self.gate = None
        # Origins grouped (by shard, say): how many groups had a request
        # in flight at once, at most.
        self.group_of = {}
        self.groups_peak = 0
        self._group_in_flight = {}
        self._groups_busy = 0
        self._count = count
        self._first_address = first_address
        self._loop = asyncio.new_event_loop()
        self._servers = []
        self.origins = []
        started = threading.Event()
        failure = []

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._listen())
            except BaseException as e:  # noqa: BLE001 - reported to the caller
                failure.append(e)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="counting-server", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]

    async def _listen(self):
        for i in range(self._count):
            address = f"127.0.0.{self._first_address + i}"
            origin = Origin(None)
            server = await asyncio.start_server(
                lambda r, w, origin=origin: self._serve(origin, r, w), address, 0, backlog=1024
            )
            origin.name = f"{address}:{server.sockets[0].getsockname()[1]}"
            self._servers.append(server)
            self.origins.append(origin)

    def by_name(self):
        return {origin.name: origin for origin in self.origins}

    def reset(self):
        """Forgets the counts (call between runs, with nothing in flight)."""

        def clear():
            for origin in self.origins:
                origin.__init__(origin.name)
            self.paths.clear()
            self.wrong_host = 0
            self.gate = None
            self.groups_peak = 0
            self._group_in_flight.clear()
            self._groups_busy = 0

        self._call(clear)

    def group(self, group_of):
        """Groups the origins: {origin name: group}."""
        self._call(lambda: setattr(self, "group_of", dict(group_of)))

    def hold(self, origins, after):
        """Holds the answers of `origins` once `after` of them were sent;
        returns the gate (its `holding` is set when the first is held)."""
        gate = self._call(lambda: Gate(origins, after))
        self._call(lambda: setattr(self, "gate", gate))
        return gate

    def release(self):
        gate = self.gate
        if gate is not None:
            self._loop.call_soon_threadsafe(gate.released.set)

    def stop(self):
        async def close():
            for server in self._servers:
                server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _call(self, function):
        async def call():
            return function()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    async def _serve(self, origin, reader, writer):
        try:
            while await self._one(origin, reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _one(self, origin, reader, writer):
        """Serves one request; False when the connection is done."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return False
        path = parts[1]
        host = next((line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("host:")), None)
        if host != origin.name:
            self.wrong_host += 1
        self.paths[path] = self.paths.get(path, 0) + 1
        origin.begin()
        self._group_step(origin, 1)
        try:
            # The client leaving (a killed task) ends the request too; a
            # client sends nothing else before the answer (no pipelining).
            left = asyncio.ensure_future(reader.read(1))
            ready = asyncio.ensure_future(self._ready(origin))
            done, _ = await asyncio.wait({left, ready}, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                ready.cancel()
                origin.abandoned += 1
                return False
            left.cancel()
            await asyncio.wait({left})
            if not left.cancelled():
                return False  # it sent something (or left) before the answer
        finally:
            origin.end()
            self._group_step(origin, -1)
        if path.startswith("/item/"):
            status, body = "200 OK", f"item {path[6:]}\n"
        else:
            status, body = "404 Not Found", "no such page\n"
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
        )
        await writer.drain()
        return True

    def _group_step(self, origin, step):
        group = self.group_of.get(origin.name)
        if group is None:
            return
        before = self._group_in_flight.get(group, 0)
        self._group_in_flight[group] = before + step
        if before == 0 and step > 0:
            self._groups_busy += 1
            self.groups_peak = max(self.groups_peak, self._groups_busy)
        elif before + step == 0:
            self._groups_busy -= 1

    async def _ready(self, origin):
        """Waits out the delay, then the gate if it holds this origin."""
        await asyncio.sleep(self.delay)
        gate = self.gate
        if gate is not None and origin.name in gate.origins and not gate.released.is_set():
            if gate.sent >= gate.after:
                gate.holding.set()
                await gate.released.wait()
            else:
                gate.sent += 1
