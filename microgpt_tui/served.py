"""The driver of an app served to a browser (`microgpt-tui --serve`): the session ends when
its browser goes away.

textual-serve runs one app process per browser websocket, with Textual's WebDriver: the
screen goes out on the process's stdout and keys come in on its stdin, both pipes to the
server. When the websocket closes the server sends a "quit" packet; it stops reading the
output once a send to the closed websocket fails. Two ways that left the process running,
training at full speed with no one watching:
- The server itself went away (killed, or its terminal closed): stdin ends, but the
  WebDriver's input thread just stops reading, and nothing tells the app to exit.
- The server stopped reading while a frame was being written: the write blocks in the main
  thread once the pipe is full, so neither the "quit" nor a SIGTERM is ever acted on.
So here stdin's end exits the app, and a frame is written without blocking, giving up as
soon as the browser has gone (a "quit", the end of stdin, or a broken pipe).
"""

import os
import select
import signal
import threading

from textual import messages
from textual.drivers.web_driver import WebDriver

# How long a write waits for the pipe at a time before it looks again whether the browser
# has gone.
WRITE_POLL_SECONDS = 0.1


class ServedDriver(WebDriver):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.browser_gone = threading.Event()
        # The input thread writes too (file deliveries): packets written in parts must not
        # interleave.
        self.write_lock = threading.Lock()
        os.set_blocking(self.fileno, False)
        self._write = self.write_unless_gone  # the WebDriver writes every packet with it

    def start_application_mode(self):
        # The WebDriver sets a SIGTERM handler of its own, which exits with code 0 and only
        # once the loop runs again: the app's (signals.py) is put back.
        app_handler = signal.getsignal(signal.SIGTERM)
        super().start_application_mode()
        signal.signal(signal.SIGTERM, app_handler)

    def write_unless_gone(self, data):
        view = memoryview(data)
        with self.write_lock:
            while view and not self.browser_gone.is_set():
                try:
                    view = view[os.write(self.fileno, view):]
                except BlockingIOError:
                    select.select([], [self.fileno], [], WRITE_POLL_SECONDS)
                except BrokenPipeError:  # the server has gone
                    self.end_session()

    def end_session(self):
        """The browser has gone: drop what is still to be written, and exit the app."""
        if not self.browser_gone.is_set():
            self.browser_gone.set()
            self._app.post_message(messages.ExitApp())

    def on_meta(self, packet_type, payload):
        if packet_type == "quit":
            self.end_session()
        else:
            super().on_meta(packet_type, payload)

    def run_input_thread(self):
        super().run_input_thread()
        # The reading ends when the app stops, or when stdin ends because the server has gone.
        if not self.exit_event.is_set():
            self.end_session()
