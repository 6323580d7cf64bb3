"""`microgpt-tui --serve` end to end: a real server on a loopback port, and a client that talks
to it as the browser page does (textual-serve's websocket: ["resize", {...}] and
["stdin", keys] in, the terminal's output out). A session ends when its browser goes away."""

import asyncio
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("textual_serve")

PROJECT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SIZE = {"width": 120, "height": 34}
STEP_1_LOSS = rb"3\.3660"  # the reference's first loss, default config (tests/engine check it)


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def descendants(pid):
    """The ids of the processes that `pid` started, and those they started, from /proc."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The process name, in parentheses, may hold spaces: the parent id follows it.
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # a process that has just ended
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, to_visit = [], [pid]
    while to_visit:
        found_now = children.get(to_visit.pop(), [])
        found.extend(found_now)
        to_visit.extend(found_now)
    return found


async def until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.05)


class Served:
    """`microgpt-tui --serve` on `port`, stopped (and its sessions with it) at the end."""

    def __init__(self, port):
        self.port = port
        self.url = f"http://{HOST}:{port}"
        # Its output goes to a file, closed by stop(): a pipe no one reads could fill up and
        # stall the server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        # From the project: the sessions it starts run this checkout's microgpt_tui.
        self.server = subprocess.Popen(
            [sys.executable, "-m", "microgpt_tui", "--serve", "--host", HOST, "--port",
             str(port)], cwd=PROJECT, stdout=self.log, stderr=subprocess.STDOUT)
        self.seen_sessions = set()

    async def started(self):
        def listening():
            assert self.server.poll() is None, self.output()
            with socket.socket() as client:
                return client.connect_ex((HOST, self.port)) == 0

        await until(listening, 20, "the server listens")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def sessions(self):
        """The processes running the server's sessions (one app each)."""
        sessions = descendants(self.server.pid) if self.server.poll() is None else []
        self.seen_sessions.update(sessions)
        return sessions

    def stop(self):
        self.sessions()
        self.server.send_signal(signal.SIGINT)  # how a person stops it: Ctrl+C
        try:
            self.server.wait(10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.log.close()
        for pid in self.seen_sessions:  # what a failing test left running
            if running_app(pid):
                os.kill(pid, signal.SIGKILL)


def running_app(pid):
    """Whether process `pid` runs microgpt-tui (not another process that reused the id)."""
    try:
        return b"microgpt_tui" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Browser:
    """What the page's JavaScript does: open the websocket at the page's size, send keys, and
    keep the terminal output it gets."""

    def __init__(self, http, websocket):
        self.http, self.websocket = http, websocket
        self.screen = bytearray()
        self.closed_by_server = False

    @classmethod
    async def open(cls, url):
        http = aiohttp.ClientSession()
        websocket = await http.ws_connect(
            f"{url}/ws?width={SIZE['width']}&height={SIZE['height']}")
        await websocket.send_json(["resize", SIZE])
        return cls(http, websocket)

    async def read(self, until, timeout):
        """Keep the output until `until()` holds, the server closes the websocket, or
        `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while not until() and not self.closed_by_server and time.monotonic() < deadline:
            try:
                message = await self.websocket.receive(timeout=deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if message.type == aiohttp.WSMsgType.BINARY:
                self.screen.extend(message.data)
            elif message.type != aiohttp.WSMsgType.TEXT:
                self.closed_by_server = True

    async def read_until(self, pattern, timeout):
        """Read the output until the regular expression `pattern` (bytes) is in it."""
        await self.read(lambda: re.search(pattern, self.screen), timeout)
        assert re.search(pattern, self.screen), f"{pattern!r} never shown"

    async def press(self, keys):
        await self.websocket.send_json(["stdin", keys])

    async def close(self):
        await self.websocket.close()
        await self.http.close()


@pytest.fixture
async def served():
    servers = []

    async def start(port=None):
        servers.append(Served(port or free_port()))
        await servers[-1].started()
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


async def test_a_browser_trains_a_step_and_its_session_ends_when_it_closes(served):
    server = await served()
    browser = await Browser.open(server.url)
    try:
        await browser.read_until(b"step 0/1000", 20)
        await browser.press("s")
        await browser.read_until(STEP_1_LOSS, 10)
        app, = server.sessions()  # the app's own process (the shell that started it exec'd)
        assert running_app(app)
    finally:
        await browser.close()
    await until(lambda: not server.sessions(), 10, "the session ends with its browser")
    assert server.server.poll() is None  # the server stays up for the next browser


async def test_a_session_ends_when_its_server_is_killed_mid_training(served):
    server = await served()
    browser = await Browser.open(server.url)
    try:
        await browser.read_until(b"step 0/1000", 20)
        await browser.press(" ")
        await browser.read_until(rb"step [1-9]\d*/1000", 10)
        sessions = server.sessions()
        server.server.kill()  # no "quit" for the session: its stdin ends, its stdout breaks
        server.server.wait()
        await until(lambda: not any(map(running_app, sessions)), 10,
                    "the session ends without its server")
    finally:
        await browser.close()


async def test_a_served_app_ends_on_sigterm_and_its_browser_is_told(served):
    server = await served()
    browser = await Browser.open(server.url)
    try:
        await browser.read_until(b"step 0/1000", 20)
        await browser.press(" ")
        await browser.read_until(rb"step [1-9]\d*/1000", 10)
        app, = server.sessions()
        os.kill(app, signal.SIGTERM)
        await until(lambda: not server.sessions(), 10, "the session ends on SIGTERM")
        await browser.read(lambda: False, 10)
        assert browser.closed_by_server  # the page says the session has ended
    finally:
        await browser.close()


async def test_serves_on_a_port_held_only_by_time_wait(served):
    port = free_port()
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, port))
        listener.listen()
        with socket.create_connection((HOST, port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the side that closes first keeps the port in TIME_WAIT
            client.recv(1)
    assert time_wait_on(port), "the test needs a TIME_WAIT socket on the port"
    server = await served(port)
    async with aiohttp.ClientSession() as http, http.get(server.url) as page:
        assert page.status == 200
        assert "microgpt-tui" in await page.text()


def time_wait_on(port):
    """Whether a TCP socket on 127.0.0.1:`port` is in TIME_WAIT (state 06 in /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(line.split()[1] == local and line.split()[3] == "06" for line in lines)


class AppStub:
    def __init__(self):
        self.posted = []

    def post_message(self, message):
        self.posted.append(message)


async def test_a_frame_stuck_in_a_full_pipe_is_dropped_when_the_browser_quits(monkeypatch):
    """The server stops reading when its websocket closes; a frame being written then must
    not block the app for ever (it would never see the "quit", nor a SIGTERM)."""
    from textual.messages import ExitApp

    from microgpt_tui.served import ServedDriver

    read_end, write_end = os.pipe()  # the app's stdout, which the server no longer reads
    keys_in, keys_out = os.pipe()  # its stdin, which the server writes to
    monkeypatch.setattr(sys, "__stdout__", os.fdopen(write_end, "w"))
    monkeypatch.setattr(sys, "__stdin__", os.fdopen(keys_in, "r"))
    app = AppStub()
    driver = ServedDriver(app)
    frame = b"x" * (4 * 65536)  # more than the pipe holds: no one reads it
    writer = threading.Thread(target=driver.write, args=[frame.decode()], daemon=True)
    writer.start()
    try:
        await until(lambda: not select.select([], [write_end], [], 0)[1], 5, "the pipe fills")
        assert writer.is_alive()
        driver.on_meta("quit", {"type": "quit"})  # from the input thread
        writer.join(5)
        assert not writer.is_alive()
        assert [type(message) for message in app.posted] == [ExitApp]
    finally:
        driver.end_session()  # lets a stuck writer go if an assertion failed
        writer.join(5)
        for file in (sys.__stdout__, sys.__stdin__):
            file.close()
        for fd in (read_end, keys_out):
            os.close(fd)
