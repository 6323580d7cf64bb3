"""The dataset (one document per line) and the character tokenizer over it."""

import unicodedata
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from .files import read_file

BOS_LABEL = "·"
BYTE_ORDER_MARK = "\ufeff"
# C0 control characters and DEL are shown as their Unicode control pictures (␀ ... ␟, ␡).
CONTROL_PICTURES = {chr(code): chr(0x2400 + code) for code in range(0x20)} | {"\x7f": "␡"}
# Characters a token's label could be mistaken for, so that when the data has them they are
# shown escaped: BOS's label and the control pictures.
LOOKALIKES = frozenset(BOS_LABEL) | frozenset(CONTROL_PICTURES.values())


def default_dataset_path():
    """names.txt: inside the installed package, or at the top of a source checkout."""
    packaged = resources.files("engine") / "names.txt"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "names.txt"


def parse_docs(text):
    """Documents of a dataset's text, cleaned exactly as the reference does."""
    return [line.strip() for line in text.strip().split("\n") if line.strip()]


def load_docs(path=None):
    """Read and validate a dataset; a ValueError says in one line what is wrong."""
    path = Path(path) if path is not None else default_dataset_path()
    raw = read_file(path, "dataset")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"dataset is not UTF-8 text: {path} (bad byte at offset {error.start})"
        ) from None
    # A BOM says "this is UTF-8" to some editors; it is not a character of the first document.
    text = text.removeprefix(BYTE_ORDER_MARK)
    if "\x00" in text:
        raise ValueError(f"dataset looks binary (contains NUL bytes): {path}")
    docs = parse_docs(text)
    if not docs:
        what = "empty" if not raw else "only blank lines"
        raise ValueError(f"dataset has no documents ({what}): {path}")
    return docs


@dataclass(frozen=True)
class Tokenizer:
    """Token ids are positions in the sorted character set; BOS is one id past the last."""

    chars: tuple

    @classmethod
    def from_docs(cls, docs):
        return cls(tuple(sorted(set("".join(docs)))))

    @property
    def bos(self):
        return len(self.chars)

    @property
    def vocab_size(self):
        return len(self.chars) + 1

    @cached_property
    def _ids(self):
        return {ch: i for i, ch in enumerate(self.chars)}

    def encode(self, doc):
        try:
            return [self._ids[ch] for ch in doc]
        except KeyError as error:
            raise ValueError(f"character {error.args[0]!r} is not in the vocabulary") from None

    def document(self, doc):
        """The tokens the model sees for a document: BOS, its characters, BOS."""
        return (self.bos, *self.encode(doc), self.bos)

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids if i != self.bos)

    def label(self, token_id):
        """How a token is shown to a person: · for BOS, else its character, except that no
        two tokens look alike and none is invisible: a control character is its control
        picture (\\a as ␇), and an invisible, combining or look-alike one (a literal ·, a
        zero-width space) is its escape, such as \\xb7 or \\u200b."""
        return BOS_LABEL if token_id == self.bos else char_label(self.chars[token_id])


def char_label(ch):
    if ch in CONTROL_PICTURES:
        return CONTROL_PICTURES[ch]
    if ch in LOOKALIKES or not ch.isprintable() or unicodedata.category(ch) in ("Mn", "Me"):
        return ch.encode("unicode_escape").decode("ascii")
    return ch
