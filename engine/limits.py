"""The range of every number a run takes, checked alike wherever it comes from: a flag of
either command line or a field of a checkpoint.

A check returns the number or raises a ValueError that says, in a few words, what the
number must be and what it was ("must be a whole number from 1 to 1,000,000,000, got 0");
the caller puts the flag or the field in front of it. Nothing is built before the numbers
are checked: a model too big to build in memory is refused from its sizes alone.
"""

import math
import reprlib
from dataclasses import dataclass

# Each parameter is a Python object in the scalar graph, with its gradient, Adam's two
# moments and its share of a step's graph: ~400 bytes, and about a second a step per million.
MAX_PARAMS = 5_000_000
# A step takes milliseconds at best: a billion of them would run for months.
MAX_STEPS = 1_000_000_000
# The app's temperature keys move it in these steps, between these ends (microgpt_tui.app).
MIN_TEMPERATURE, MAX_TEMPERATURE, TEMPERATURE_DECIMALS = 0.1, 2.0, 1

_short = reprlib.Repr()
_short.maxstring = _short.maxother = _short.maxlong = 40


def shown(value):
    """`value` for an error line: a 4,000-digit number or a huge list is cut short."""
    try:
        return _short.repr(value)
    except ValueError:  # an int too long to write out at all (over 4,300 digits)
        return f"a number of about {int(value.bit_length() * math.log10(2))} digits"


@dataclass(frozen=True)
class Limit:
    """Numbers from `low` to `high` (either may be open: `above`/`below` exclude the end).

    A `whole` limit takes ints only; any other takes ints and floats, converted to float,
    and refuses NaN and the infinities unless `finite` is False. A bool is never a number
    here. `decimals` asks for at most that many digits after the point."""

    low: float | None = None
    high: float | None = None
    whole: bool = False
    above: bool = False
    below: bool = False
    finite: bool = True
    decimals: int | None = None

    def describe(self):
        kind = "a whole number" if self.whole else "a finite number" if self.finite else (
            "a number")
        low = None if self.low is None else f"{self.low:,}"
        high = None if self.high is None else f"{self.high:,}"
        if self.decimals is not None:
            step = f"{10 ** -self.decimals:g}"
            return f"a number from {low} to {high} in steps of {step}"
        if low is not None and high is not None and not (self.above or self.below):
            return f"{kind} from {low} to {high}"
        ends = []
        if low is not None:
            ends.append(f"{'>' if self.above else '>='} {low}")
        if high is not None:
            ends.append(f"{'<' if self.below else '<='} {high}")
        return " and ".join([f"{kind} {ends[0]}", *ends[1:]]) if ends else kind

    def fits(self, value):
        """`value` as the number it stands for, or None if it is outside the limit."""
        if type(value) is not int and (self.whole or type(value) is not float):
            return None
        if not self.whole:
            try:
                value = float(value)
            except OverflowError:  # an int beyond the largest float
                return None
            if self.finite and not math.isfinite(value):
                return None
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return None
        if self.high is not None and (value >= self.high if self.below else value > self.high):
            return None
        if self.decimals is not None and round(value, self.decimals) != value:
            return None
        return value

    def check(self, value, field=None):
        """`value` (as a float unless the limit is whole); a ValueError if it does not fit,
        which starts with `field` if one is given."""
        fitted = self.fits(value)
        if fitted is None:
            raise ValueError(self.problem(value, field))
        return fitted

    def problem(self, value, field=None):
        prefix = f"{field} " if field else ""
        return f"{prefix}must be {self.describe()}, got {shown(value)}"

    def parse(self, text):
        """The number written as `text` (a command-line argument), checked."""
        try:
            value = int(text) if self.whole else float(text)
        except ValueError:  # not a number, or an int of over 4,300 digits
            raise ValueError(self.problem(text)) from None
        fitted = self.fits(value)
        if fitted is None:
            raise ValueError(self.problem(text))  # as written: 1e400, not the inf it became
        return fitted

    def check_all(self, values, field):
        """Every item of the list `values`; the error names the first bad one, `field[i]`."""
        if not isinstance(values, list):
            raise ValueError(f"{field} must be a list of numbers, got {shown(values)}")
        if self.all_plain_floats(values):
            return
        for index, value in enumerate(values):
            if self.fits(value) is None:
                raise ValueError(self.problem(value, f"{field}[{index}]"))

    def all_plain_floats(self, values):
        """A quick yes for the usual case, at C speed (a checkpoint holds millions of
        numbers): all floats, all finite (a sum of finite floats may still overflow: then
        the slow path decides), all within the ends. False means "look one by one"."""
        if self.whole or self.decimals is not None or not values:
            return False
        if not set(map(type, values)) <= {float}:
            return False
        if self.finite and not math.isfinite(sum(values)):
            return False
        if self.low is not None and (min(values) <= self.low if self.above
                                     else min(values) < self.low):
            return False
        return self.high is None or not (max(values) >= self.high if self.below
                                         else max(values) > self.high)


WHOLE_SIZE = Limit(1, whole=True)
POSITIVE = Limit(0, above=True)
FRACTION = Limit(0, 1, below=True)
ANY_FINITE = Limit()

# Every Config field's range: the flags that set them and a checkpoint's config alike.
SETTINGS = {
    "n_layer": WHOLE_SIZE,
    "n_embd": WHOLE_SIZE,
    "n_head": WHOLE_SIZE,
    "block_size": WHOLE_SIZE,
    "init_std": POSITIVE,
    "lr": POSITIVE,
    "beta1": FRACTION,
    "beta2": FRACTION,
    "eps": POSITIVE,
    "num_steps": Limit(1, MAX_STEPS, whole=True),
    "seed": Limit(0, whole=True),
}

TEMPERATURE = Limit(MIN_TEMPERATURE, MAX_TEMPERATURE, decimals=TEMPERATURE_DECIMALS)


def count_params(config, vocab_size):
    """How many weights the model of `config` has (model.param_shapes, without building
    its list: a config of a billion layers is counted as quickly as one of one)."""
    d = config.n_embd
    return (2 * vocab_size + config.block_size) * d + config.n_layer * 12 * d * d


def check_model_size(config, vocab_size):
    """A ValueError if the model is too big to build: it would take minutes, or all the
    memory there is, before the first step."""
    count = count_params(config, vocab_size)
    if count > MAX_PARAMS:
        # Formatting an int of over 4,300 digits is refused: give its size instead.
        many = f"{count:,}" if count < 10**30 else (
            f"about 10^{int(count.bit_length() * math.log10(2))}")
        raise ValueError(
            f"a model of n_layer {shown(config.n_layer)}, n_embd {shown(config.n_embd)}, "
            f"block_size {shown(config.block_size)} and {vocab_size:,} tokens would have "
            f"{many} parameters; microgpt-tui builds at most {MAX_PARAMS:,}")
