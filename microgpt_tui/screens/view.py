"""What every view over the panes is built on: the run store, one throttle, one way to close."""

import time

from textual.binding import Binding
from textual.screen import Screen


class Throttle:
    """Call `action` at most once every `interval` seconds. A call that comes sooner is not
    lost: one call is made when the interval is over, however many came meanwhile."""

    def __init__(self, node, interval, action):
        self.node = node  # whose timer waits, so it stops when the node goes away
        self.interval = interval
        self.action = action
        self.last = -interval
        self.timer = None

    def __call__(self, *_args):
        if self.timer is not None:
            return  # already waiting to call
        wait = self.last + self.interval - time.monotonic()
        if wait > 0:
            self.timer = self.node.set_timer(wait, self.fire)
        else:
            self.fire()

    def fire(self):
        self.timer = None
        self.last = time.monotonic()
        self.action()


class RunView(Screen):
    """A view over the panes. It gets the run store in its constructor, closes on escape and
    on its own `KEY`, and redraws (`redraw()`) when it opens and, throttled to one redraw per
    `REDRAW_INTERVAL` seconds, after every change of the store it `FOLLOWS`. Textual cancels
    the workers of a view when it closes; a view's long computations check their worker's
    `is_cancelled` so that their threads stop too. A subclass may have an `on_mount` of its
    own: Textual calls it before this one."""

    KEY = ""  # the key that opens the view (the app's binding) and closes it
    CLOSE_LABEL = "close"  # escape's word in the footer
    NEEDS_A_STEP = ""  # what the view is called, if it shows the last trained name
    FOLLOWS = frozenset()  # the store's Changes that call for a redraw
    REDRAW_INTERVAL = 0.1

    def __init_subclass__(cls, **kwargs):
        # Before Textual's own __init_subclass__, which merges the bindings.
        keys = f"escape,{cls.KEY}" if cls.KEY else "escape"
        cls.BINDINGS = [Binding(keys, "dismiss", cls.CLOSE_LABEL, tooltip="Back to the panes"),
                        *cls.__dict__.get("BINDINGS", [])]
        super().__init_subclass__(**kwargs)

    def __init__(self, store):
        super().__init__()
        self.store = store
        self.throttled_redraw = Throttle(self, self.REDRAW_INTERVAL, self.redraw)

    def on_mount(self):
        if self.FOLLOWS:
            self.store.changed.subscribe(self, self.run_changed)
        self.redraw()

    def run_changed(self, changes):
        if changes & self.FOLLOWS:
            self.throttled_redraw()

    def redraw(self):
        """Draw the view from the store."""
