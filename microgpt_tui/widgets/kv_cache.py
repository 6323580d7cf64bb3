"""The KV cache of the selected layer and head: one key row and one value row per position."""

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

GRAD_STYLE = "dark_orange"


def signed(x):
    return Text(f" {x:+.2f}", style="cyan" if x >= 0 else "magenta")


def gradient(g):
    # Gradients are ~1e-3, so fixed decimals would show only zeros; one significant digit
    # keeps the column as narrow as the values beside it.
    if g == 0:
        return Text("     0", style=GRAD_STYLE)
    mantissa, exponent = f"{g:+.0e}".split("e")
    return Text(f" {mantissa}e{int(exponent)}", style=GRAD_STYLE)


class KVCacheTable(DataTable):
    view = reactive(None)
    layer = reactive(0)
    head = reactive(0)

    def __init__(self, **kwargs):
        super().__init__(cursor_type="none", zebra_stripes=True, cell_padding=0, **kwargs)

    def watch_view(self):
        self.rebuild()

    def watch_layer(self):
        self.rebuild()

    def watch_head(self):
        self.rebuild()

    def rebuild(self):
        self.clear(columns=True)
        view = self.view
        if view is None:
            self.add_column(Text("s fills the cache from a training name, n from a sample",
                                 style="dim"))
            return
        cache = view.cache[min(self.layer, len(view.cache) - 1)]
        head_dim = len(cache[0][0]) // view.n_head
        head = min(self.head, view.n_head - 1)
        lo, hi = head * head_dim, (head + 1) * head_dim
        self.add_columns("pos ", "tok")
        # DataTable measures auto-width columns on idle, so a column with a blank header
        # could be drawn 0 wide for a frame, hiding the row names; a fixed width cannot.
        self.add_column("", width=3)
        self.add_columns(*(f"{j:>6}" for j in range(head_dim)))
        grads = None if view.grads is None else view.grads[min(self.layer, len(view.grads) - 1)]
        for pos, (key, value) in enumerate(cache):
            rows = [("k", key, signed), ("v", value, signed)]
            if grads is not None:
                # The gradient row sits under the vector it belongs to.
                key_grad, value_grad = grads[pos]
                rows[1:1] = [("∂k", key_grad, gradient)]
                rows.append(("∂v", value_grad, gradient))
            for i, (name, vector, show) in enumerate(rows):
                cells = [f"{pos:>3} ", f" {view.labels[pos]} "] if i == 0 else ["", ""]
                cells.append(Text(f"{name:>2} ", style="bold"))
                cells.extend(show(x) for x in vector[lo:hi])
                self.add_row(*cells)
        if view.grads is None:
            # While sampling, the newest row is the news: keep it in sight.
            self.scroll_end(animate=False)
