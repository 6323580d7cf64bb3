"""The loss curve: every step's loss as faint braille dots, the running mean as a bold line,
and two reference lines drawn over them: the loss of a uniform guess, ln(vocab), and the loss
of a bigram model that only counts letter pairs (engine/baseline.py): below it, the model
beats counting. With --val-fraction, the loss on held-out names (never trained on) is drawn
as ◆ markers, and a line says how far it is from the running mean of training: a widening
gap is the model learning its training names rather than names in general. A branch forked
with B (engine/branch.py) is drawn as its own running mean, in another colour, from the step
it was forked at, with a line that says what it changed and where its mean stands.

Braille cells hold 2x4 dots, so a pane 50 cells wide has 100 dot columns: the whole history
is drawn, each step a dot of its own (several steps share a dot column once there are more
steps than columns, and the legend says how many a column holds). The y range follows the
data (after the first steps) on a grid of rows centred on the bigram's value, so its line,
drawn with whole characters, sits exactly where the dots of the same value would.
"""

import math
from bisect import bisect_right
from dataclasses import dataclass

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..colours import BOLD_MARK

MEAN_WINDOW = 50
# For this many steps the y range also holds both reference lines (the learner sees the
# target from step 1); after them it follows the data.
ZOOM_AFTER = 20
# The y range holds this fraction of the per-step losses: a name the model finds absurd
# should not squash the curve. The few beyond it are drawn on the edge row.
KEEP = 0.96
SAMPLE = 2000  # at most this many losses (evenly spread) choose the y range
MIN_SPAN = 0.2  # the smallest loss range the rows cover
MIN_AXIS_STEPS = 10  # the x axis spans at least this many steps
STEP, MEAN, UNIFORM, BIGRAM = "#5f87af", BOLD_MARK, "yellow3", "green3"
VALIDATION, VALIDATION_MARK = "orchid", "◆"
BRANCH = "turquoise2"  # apart from the mean (orange), the losses (blue) and the references
# A cell both means pass through: the run's mean on the branch's colour, so neither vanishes.
BOTH_MEANS = f"{MEAN} on #004848"
# Where the mean crosses a reference line, the line shows as this background behind it.
UNDER = {UNIFORM: "#262600", BIGRAM: "#002a00"}
UNIFORM_LINE, BIGRAM_LINE = "┄", "╌"
# The learning-rate schedule's bars (widgets/lr_schedule.py) keep the loss pane's old look.
# The bit of each dot in a braille cell (U+2800 + bits), by [row of 4][column of 2].
DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
UNITS = [m * 10.0 ** e for e in range(-2, 4) for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8)]


def running_means(values, window=MEAN_WINDOW):
    """Mean of the last `window` values at each point."""
    means, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        means.append(total / min(i + 1, window))
    return means


@dataclass(frozen=True)
class YScale:
    """Rows of `unit` loss each; row 0's centre is `top`. A value `anchor + k * unit` falls on
    the boundary between a row's second and third dot, its middle, where ╌ is drawn."""

    top: float
    unit: float
    rows: int

    def dot(self, value):
        """The dot row (0 at the top, 4 per text row) of `value`, clamped to the plot."""
        y = math.floor((self.top + self.unit / 2 - value) / self.unit * 4)
        return min(4 * self.rows - 1, max(0, y))

    def contains(self, value):
        return self.top - (self.rows - 0.5) * self.unit <= value < self.top + self.unit / 2

    def centre(self, row):
        return self.top - row * self.unit


def y_scale(lo, hi, rows, anchor):
    """The smallest row height from UNITS whose `rows` rows cover [lo, hi], with row centres
    at `anchor` plus whole rows; spare rows are split above and below the data."""
    if hi - lo < MIN_SPAN:
        middle = (hi + lo) / 2
        lo, hi = middle - MIN_SPAN / 2, middle + MIN_SPAN / 2
    for unit in UNITS:
        if unit * rows < hi - lo:
            continue
        top = anchor + math.ceil((hi - unit / 2 - anchor) / unit - 1e-9) * unit
        bottom = top + unit / 2 - rows * unit
        if bottom <= lo + 1e-9:
            spare = int((lo - bottom) / unit + 1e-9)
            return YScale(top + (spare // 2) * unit, unit, rows)
    return YScale(hi, (hi - lo) / rows, rows)  # beyond UNITS (a diverging run): plain scale


@dataclass(frozen=True)
class XScale:
    """`dots` dot columns for steps 0 to `length`; `per_column` steps share a text column."""

    length: int
    dots: int

    def dot(self, step):
        return min(self.dots - 1, step * self.dots // self.length)

    def column(self, step):
        return self.dot(step) // 2

    @property
    def per_column(self):
        return 2 * self.length / self.dots


def x_scale(steps, columns):
    """Steps 0..`steps` over `columns` text columns (2 dots each). Fewer steps than dots:
    a power of two dots per step; more: a whole number of steps per dot. The scale changes
    only when the history outgrows it, so dots do not shift with every step."""
    dots = 2 * columns
    needed = max(steps + 1, MIN_AXIS_STEPS)
    if needed <= dots:
        per_step = 2 ** int(math.log2(dots // needed))
        return XScale(dots // per_step, dots)
    return XScale(math.ceil(needed / dots) * dots, dots)


def tick_step(length, columns, gap):
    """The smallest of 1, 2, 2.5, 5 x 10^k steps whose ticks are at least `gap` columns apart."""
    for exponent in range(12):
        for mantissa in (1, 2, 2.5, 5):
            step = mantissa * 10 ** exponent
            if step == int(step) and step * columns / length >= gap:
                return int(step)
    return length


def quantile(ordered, q):
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def data_range(losses, means, references):
    """The loss range the y axis covers: early on every loss and both references, then the
    middle KEEP of the per-step losses and the whole running mean."""
    if len(losses) < ZOOM_AFTER:
        values = [*losses, *references]
        return min(values), max(values)
    # A long history is sampled evenly: sorting 10,000 losses each frame costs ~1 ms.
    ordered = sorted(losses[::len(losses) // SAMPLE + 1])
    cut = (1 - KEEP) / 2
    return (min(quantile(ordered, cut), min(means)),
            max(quantile(ordered, 1 - cut), max(means)))


def verdicts(mean, window, bigram):
    """The mean against the bigram in words, longest first."""
    gap = mean - bigram
    words = f"{abs(gap):.2f} {'below' if gap < 0 else 'above'}"
    if round(abs(gap), 2) == 0:
        return [f"mean of last {window} {mean:.4f} is level with the bigram: attention "
                "does as well as counting pairs", f"mean {mean:.4f} is level with the bigram",
                f"mean {mean:.4f}: level with bigram"]
    if gap < 0:
        long, short = "attention is doing more than counting pairs", "beats counting pairs"
    else:
        long, short = "not yet better than counting pairs", "counting still wins"
    return [f"mean of last {window} {mean:.4f} is {words} the bigram: {long}",
            f"mean {mean:.4f} is {words} the bigram: {short}",
            f"mean {mean:.4f} is {words} the bigram", f"mean {mean:.4f}: {words} bigram"]


def validation_gap(validation, losses):
    """The newest validation loss against the running mean of training at its step, in
    words, longest first."""
    step, loss = validation[-1]
    window = [x for x in losses[max(0, step - MEAN_WINDOW):step] if math.isfinite(x)]
    if not window:
        return [f"validation {loss:.2f} at step {step}, before training", f"validation "
                f"{loss:.2f} at step {step}", f"validation {loss:.2f}"]
    mean = math.fsum(window) / len(window)
    gap = loss - mean
    words = ("level with" if round(abs(gap), 2) == 0 else
             f"{abs(gap):.2f} {'above' if gap > 0 else 'below'}")
    return [f"validation {loss:.2f} at step {step}, {words} the running mean of training "
            f"({mean:.2f})", f"validation {loss:.2f}, {words} the running mean of training",
            f"validation {loss:.2f}, {words} training's mean",
            f"validation {loss:.2f}, {words} train"]


def validation_line(candidates, width):
    """The first candidate that fits `width` with the marker before it, the word in colour."""
    text = next((text for text in candidates if len(text) + 2 <= width), candidates[-1])
    word = "validation"
    return Text.assemble((f"{VALIDATION_MARK} {word}", VALIDATION), text[len(word):],
                         no_wrap=True, overflow="crop")


def branch_means(losses, branch, mean_cache):
    """(steps, running means) of the branch: over the run's losses up to the fork and the
    branch's after it, so that the two means part exactly where the runs do."""
    history = [*(x for x in losses[:branch.start] if math.isfinite(x)), *branch.losses]
    means = mean_cache(history)
    n = len(branch.losses)
    return range(branch.start + 1, branch.start + n + 1), means[len(means) - n:]


def branch_line(branch, branch_mean, mean, width):
    """What the branch changed, and its running mean against the run's, longest first that
    fits."""
    start = f"branch {branch.label} from step {branch.start}"
    if branch.stopped:
        candidates = [f"{start}: stopped, {branch.stopped}", f"{start}: stopped"]
    elif branch_mean is None:
        candidates = [f"{start}: steps with the run (s, space)", start]
    else:
        gap = branch_mean - mean
        words = "level" if round(abs(gap), 4) == 0 else f"{gap:+.4f}"
        candidates = [f"{start}: mean {branch_mean:.4f} ({words} against the run)",
                      f"{start}: mean {branch_mean:.4f} ({words})", start]
    text = next((text for text in candidates if len(text) + 2 <= width), candidates[-1])
    word = "branch"
    return Text.assemble((f"━ {word}", BRANCH), text[len(word):], no_wrap=True, overflow="crop")


def key_line(text, width):
    """`text` with the words mean and bigram (first time each) preceded by their line's key."""
    line = Text(no_wrap=True, overflow="crop")
    rest = text
    for word, key, style in (("mean", "━", MEAN), ("bigram", BIGRAM_LINE, BIGRAM)):
        at = rest.find(word)
        if at < 0:
            continue
        line.append(rest[:at])
        line.append(f"{key} ", style=style)
        line.append(word, style=style)
        rest = rest[at + len(word):]
    line.append(rest)
    return line


def fitting(candidates, width):
    """The first candidate (its keys add two characters per word) that fits `width`."""
    for text in candidates:
        if len(text) + 2 * (("mean" in text) + ("bigram" in text)) <= width:
            return text
    return candidates[-1]


def flow(items, width):
    """Pack Text items into lines of at most `width`, two spaces apart."""
    lines = [Text(no_wrap=True, overflow="crop")]
    for item in items:
        if lines[-1].cell_len and lines[-1].cell_len + 2 + item.cell_len > width:
            lines.append(Text(no_wrap=True, overflow="crop"))
        if lines[-1].cell_len:
            lines[-1].append("  ")
        lines[-1].append_text(item)
    return lines

BITS = [bit for pair in DOT_BITS for bit in pair]  # by (dot row % 4) * 2 + dot column % 2


def dot_rows(values, y):
    """Each value's dot row (0 at the top), clamped to the plot: YScale.dot for a list."""
    edge, per_unit, last = y.top + y.unit / 2, 4 / y.unit, 4 * y.rows - 1
    return [0 if d < 0 else last if d >= last else int(d)
            for d in [(edge - value) * per_unit for value in values]]


def scatter(bits, columns, xs, ys):
    """One dot per point (cells of `columns` per row of `bits`)."""
    for x, y in set(zip(xs, ys, strict=True)):
        bits[(y >> 2) * columns + (x >> 1)] |= BITS[(y & 3) * 2 + (x & 1)]


def join(bits, columns, xs, values, y):
    """The points (xs ascending) joined: in each dot column, every dot between the lowest and
    highest value there and the last point before it; across empty columns, a straight line."""

    def fill(x, low, high):
        cell, bit = x >> 1, x & 1
        for dot in range(low, high + 1):
            bits[(dot >> 2) * columns + cell] |= BITS[(dot & 3) * 2 + bit]

    # One pass per dot column, not per point: 10,000 steps share ~100 columns.
    start, previous_x, previous_y = 0, xs[0], y.dot(values[0])
    while start < len(xs):
        x = xs[start]
        end = bisect_right(xs, x, start)
        first = y.dot(values[start])
        for between in range(previous_x + 1, x):  # across columns without a point
            y_at = round(previous_y + (first - previous_y) * (between - previous_x)
                         / (x - previous_x))
            fill(between, min(previous_y, y_at), max(previous_y, y_at))
            previous_x, previous_y = between, y_at
        column = values[start:end]  # the highest value is the topmost dot
        fill(x, min(previous_y, y.dot(max(column))), max(previous_y, y.dot(min(column))))
        start, previous_x, previous_y = end, x, y.dot(values[end - 1])


class MeanCache:
    """running_means of a history that only grows (or is undone), extended for the new steps
    instead of recomputed each frame (as running_means would, to the last bit)."""

    def __init__(self):
        self.values, self.means, self.total = [], [], 0.0

    def __call__(self, values):
        known = len(self.values)
        if len(values) < known or values[:known] != self.values:
            self.values, self.means, self.total, known = [], [], 0.0, 0
        total, old = self.total, self.values
        for i in range(known, len(values)):
            total += values[i]
            if i >= MEAN_WINDOW:
                total -= values[i - MEAN_WINDOW]
            self.means.append(total / min(i + 1, MEAN_WINDOW))
        old.extend(values[known:])
        self.total = total
        return self.means


class LossPlot(Widget):
    losses = reactive(())  # every step's loss so far
    num_steps = reactive(0)
    lr = reactive(0.0)  # learning rate of the newest step
    vocab_size = reactive(2)
    bigram = reactive(None)  # the bigram baseline's loss; None while it is being counted
    bigram_progress = reactive(0.0)  # fraction of documents counted so far
    validation = reactive(())  # (step, loss on held-out names) of each measurement
    branch = reactive(None)  # the BranchCurve of a branch forked with B, if any

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mean_cache = MeanCache()
        self.branch_mean_cache = MeanCache()

    def render(self):
        width, height = self.size
        if all(map(math.isfinite, self.losses)):
            numbers, values = range(1, len(self.losses) + 1), list(self.losses)
        else:  # a diverged step: its loss is not drawn, the steps after it keep their place
            finite = [(i, x) for i, x in enumerate(self.losses, 1) if math.isfinite(x)]
            numbers, values = [i for i, _ in finite], [x for _, x in finite]
        means = self.mean_cache(values)
        uniform = math.log(self.vocab_size)
        first = self.header(width)
        if not values:
            return Group(first, *self.legend(width),
                         Text("s takes one training step, space trains on.", style="dim"))
        window = min(len(values), MEAN_WINDOW)
        if self.bigram is None:
            counting = f"bigram counting {self.bigram_progress:.0%}"
            second = key_line(fitting([f"mean of last {window} {means[-1]:.4f}  {counting}",
                                       f"mean {means[-1]:.4f}  {counting}", counting], width),
                              width)
        else:
            second = key_line(fitting(verdicts(means[-1], window, self.bigram), width), width)
        lines = [first, second]
        if self.validation:
            lines.append(validation_line(validation_gap(self.validation, self.losses), width))
        branch = None
        if self.branch is not None:
            branch = branch_means(self.losses, self.branch, self.branch_mean_cache)
            lines.append(branch_line(self.branch, branch[1][-1] if branch[1] else None,
                                     means[-1], width))
        two_row_axis = height - len(lines) - 2 >= 7
        rows = height - len(lines) - (2 if two_row_axis else 1)
        if rows < 2:
            return Group(*lines)
        return Group(*lines, *self.plot(numbers, values, means, uniform, rows, two_row_axis,
                                        branch))

    def header(self, width):
        step = len(self.losses)
        current = f"{self.losses[-1]:.4f}" if self.losses else "—"
        line = Text.assemble((f"step {step}/{self.num_steps}", "bold"), "  ", ("⠒ loss ", STEP),
                             (current, "bold"), no_wrap=True, overflow="crop")
        lr = f"  lr {self.lr:.6f}" if step else "  lr —"
        if line.cell_len + len(lr) <= width:
            line.append(lr)
        return line

    def legend(self, width):
        """The keys before the first step (afterwards the lines are labelled in the plot)."""
        items = [Text.assemble(("━ mean", MEAN), f" of last {MEAN_WINDOW}"),
                 Text.assemble((f"{UNIFORM_LINE} uniform", UNIFORM),
                               f" ln {self.vocab_size} = {math.log(self.vocab_size):.4f}")]
        if self.bigram is None:
            items.append(Text.assemble((f"{BIGRAM_LINE} bigram", BIGRAM),
                                       f" counting {self.bigram_progress:.0%}"))
        else:
            items.append(Text.assemble((f"{BIGRAM_LINE} bigram", BIGRAM),
                                       f" {self.bigram:.4f}"))
        if self.validation:
            items.append(Text.assemble((f"{VALIDATION_MARK} validation", VALIDATION),
                                       f" {self.validation[-1][1]:.4f} on held-out names"))
        return flow(items, width)

    def plot(self, numbers, losses, means, uniform, rows, two_row_axis, branch=None):
        """`branch`, if given, is (steps, running means) of a branch, drawn over the mean."""
        branch_steps, branch_values = branch if branch and branch[1] else ((), [])
        references = [(uniform, UNIFORM_LINE, UNIFORM, "uniform",
                       [f"uniform ln {self.vocab_size} = {uniform:.4f}", f"uniform {uniform:.4f}",
                        f"uniform {uniform:.2f}"])]
        if self.bigram is not None:
            references.append((self.bigram, BIGRAM_LINE, BIGRAM, "bigram",
                               [f"bigram {self.bigram:.4f}", f"bigram {self.bigram:.2f}"]))
        lo, hi = data_range(losses, [*means, *branch_values],
                            [value for value, *_ in references])
        y = y_scale(lo, hi, rows, self.bigram if self.bigram is not None else uniform)

        # The y axis: every row labelled on short plots, every other (or third) on tall ones,
        # always including the row centred on the bigram (or while it is counted the uniform
        # loss), labelled in its colour.
        every = 1 if rows <= 6 else 2 if rows <= 12 else 3
        anchor_row = round((y.top - references[-1][0]) / y.unit)
        labels = [f"{y.centre(r):.2f}" if (r - anchor_row) % every == 0 else ""
                  for r in range(rows)]
        gutter = max(len(label) for label in labels) + 1
        columns = max(4, self.size.width - gutter)
        x = x_scale(numbers[-1], columns)

        # Dots: one bit per dot, per text cell; the mean in its own layer over the losses.
        cells = rows * columns
        loss_bits, mean_bits = [0] * cells, [0] * cells
        xs = [step * x.dots // x.length for step in numbers]
        if x.length < x.dots:  # fewer steps than dot columns: the losses make a line
            join(loss_bits, columns, xs, losses, y)
        else:
            scatter(loss_bits, columns, xs, dot_rows(losses, y))
        join(mean_bits, columns, xs, means, y)
        branch_bits = [0] * cells
        if branch_values:
            join(branch_bits, columns, [step * x.dots // x.length for step in branch_steps],
                 branch_values, y)
        means_bits = [a | b for a, b in zip(mean_bits, branch_bits)]  # labels avoid both

        # The reference lines over the losses (under the mean, which crosses them), and
        # their labels over everything, where they hide the least of the mean.
        # The reference the rows are centred on is drawn with its glyph across the middle of
        # its row; the other, between row middles, as a row of dots at its own height.
        glyphs, texts, taken = {}, {}, {}
        anchor = references[-1][0]
        for value, glyph, style, _, _ in sorted(references, key=lambda ref: ref[0] == anchor):
            if y.contains(value):
                dot = y.dot(value)
                if value != anchor:
                    glyph = chr(0x2800 + DOT_BITS[dot & 3][0] + DOT_BITS[dot & 3][1])
                glyphs[dot >> 2] = (glyph, style)
        for value, _, style, _, candidates in references:
            if y.contains(value):
                places = [y.dot(value) >> 2]
            elif value >= y.top:
                candidates = [f"↑ {text}" for text in candidates]
                places = list(range(rows))
            else:
                candidates = [f"↓ {text}" for text in candidates]
                places = list(range(rows - 1, -1, -1))
            for row in places:
                spot = self.label_spot(row, candidates, means_bits, taken.get(row, []),
                                       columns)
                if spot:
                    start, text = spot
                    taken.setdefault(row, []).append((start, start + len(text)))
                    for offset, char in enumerate(text):
                        texts[row * columns + start + offset] = (char, style)
                    break

        # The validation points over the curves (not over the labels, which they would cut).
        for step, loss in self.validation:
            if step <= x.length and math.isfinite(loss):
                cell = (y.dot(loss) >> 2) * columns + x.column(step)
                texts.setdefault(cell, (VALIDATION_MARK, VALIDATION))

        lines = []
        for r in range(rows):
            reference = glyphs.get(r)
            line = Text(no_wrap=True, overflow="crop")
            exact = r == anchor_row and reference and reference[1] == references[-1][2]
            line.append(f"{labels[r]:>{gutter - 1}}", style=reference[1] if exact else "dim")
            line.append("┤" if labels[r] else "│", style="dim")
            crossed = f"{MEAN} on {UNDER[reference[1]]}" if reference else MEAN
            # Cells of one style are appended as one run: a span per cell made every row
            # ~50 segments for Rich and Textual to carry, and drawing the pane cost ~9 ms a
            # frame while training.
            run, run_style = [], None
            for c in range(r * columns, (r + 1) * columns):
                if c in texts:
                    char, style = texts[c]
                elif branch_bits[c] and mean_bits[c]:  # both means in one cell
                    char, style = chr(0x2800 + (mean_bits[c] | branch_bits[c])), BOTH_MEANS
                elif branch_bits[c]:
                    char, style = chr(0x2800 + branch_bits[c]), BRANCH
                elif mean_bits[c]:
                    char, style = chr(0x2800 + mean_bits[c]), crossed
                elif reference:
                    char, style = reference
                elif loss_bits[c]:
                    char, style = chr(0x2800 + loss_bits[c]), STEP
                else:
                    char, style = " ", None
                if style != run_style and run:
                    line.append("".join(run), style=run_style)
                    run = []
                run.append(char)
                run_style = style
            line.append("".join(run), style=run_style)
            lines.append(line)
        return [*lines, *self.x_axis(x, columns, gutter, two_row_axis)]

    @staticmethod
    def label_spot(row, candidates, mean_bits, taken, columns):
        """The rightmost start, and the text, of the longest candidate (after a space) that
        covers no mean and no other label in `row`; failing that, the shortest at the right
        end if it covers no other label."""
        free = ["x" if bits else "." for bits in mean_bits[row * columns:(row + 1) * columns]]
        for a, b in taken:
            free[a:b] = "x" * (b - a)
        free = "".join(free)
        for text in candidates:
            start = free.rfind("." * (len(text) + 1))
            if start >= 0:
                return start, f" {text}"
        text = f" {candidates[-1]}"
        start = columns - len(text)
        if start >= 0 and not any(start < b for _, b in taken):
            return start, text
        return None

    def x_axis(self, x, columns, gutter, two_rows):
        """A line with a tick every few steps and the step numbers (on the line itself when
        there is no room for a row of them), and how many steps a column holds."""
        gap = len(str(x.length)) + (3 if two_rows else 2)
        every = tick_step(x.length, columns, gap)
        ticks = [(x.column(t), str(t)) for t in range(0, x.length + 1, every)]
        per_column = x.per_column
        notes = []
        if per_column > 1:
            count = round(per_column)
            notes = [f"1 column = {count} steps", f"1 col = {count} steps", f"{count} steps/col"]

        def placed(ticks):
            spans, end = [], -1
            for column, label in ticks:
                start = column if not two_rows else column - len(label) // 2
                start = min(columns - len(label), max(0, start))
                if start > end:  # at least a space after the previous label
                    spans.append((start, label))
                    end = start + len(label)
            return spans, end

        # The note goes at the right of the numbers, which give way to it from the right
        # (at least two stay): the note that leaves the most numbers, the longer on a tie.
        spans = placed(ticks)[0]
        note, best = "", -1
        for candidate in notes:
            shown = ticks
            while len(shown) > 2:
                if placed(shown)[1] + 2 + len(candidate) <= columns:
                    break
                shown = shown[:-1]
            fits, kept = placed(shown)
            if kept + 2 + len(candidate) <= columns and len(fits) > best:
                note, best, spans = candidate, len(fits), fits
        numbers = [" "] * columns
        for start, label in spans:
            numbers[start:start + len(label)] = label
        if note:
            numbers[columns - len(note):] = note

        if two_rows:
            line = ["─"] * columns
            for column, _ in ticks:
                line[column] = "┬"
            return [Text(" " * (gutter - 1) + "└" + "".join(line), style="dim", no_wrap=True),
                    Text(" " * gutter + "".join(numbers), style="dim", no_wrap=True)]
        merged = ["─" if char == " " else char for char in numbers]
        if note:  # the note stands apart from the line
            merged[columns - len(note) - 1:] = " " + note
        return [Text(" " * (gutter - 1) + "└" + "".join(merged), style="dim", no_wrap=True)]
