"""The dataset (one document per line) and the character tokenizer over it."""

from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from .files import read_file

BOS_LABEL = "·"


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
        """How a token is shown to a person: its character, or · for BOS."""
        return BOS_LABEL if token_id == self.bos else self.chars[token_id]
