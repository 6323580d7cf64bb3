"""The KV cache pane: a KV cache table under its column header, which stays in sight."""

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from .kv_cache import column_header


class KVCachePane(Vertical):
    """Only the rows scroll: the header keeps naming the columns of a long cache. (A table
    wider than the pane wraps, as its TextLines measure it: nothing scrolls sideways.)"""

    DEFAULT_CSS = """
    KVCachePane > .kv-header { height: auto; display: none; }
    KVCachePane > .kv-rows { height: 1fr; scrollbar-size: 1 1; }
    """

    def __init__(self, table, **kwargs):
        super().__init__(**kwargs)
        self.table = table
        self.head_dim = None  # the columns the header names; None: no table, no header yet

    def compose(self) -> ComposeResult:
        yield Static(classes="kv-header")
        with VerticalScroll(classes="kv-rows"):
            yield self.table

    def on_mount(self):
        self.watch(self.table, "view", self.update_header)

    def update_header(self, view):
        head_dim = None if view is None else view.head_dim
        if head_dim == self.head_dim:
            return  # the header is constant for a model: most views change nothing here
        self.head_dim = head_dim
        header = self.query_one(".kv-header", Static)
        header.display = head_dim is not None
        if head_dim is not None:
            header.update(column_header(head_dim))

    def scroll_to_newest(self):
        self.query_one(".kv-rows").scroll_end(animate=False)
