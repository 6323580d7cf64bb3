import os

import pytest

from engine import Tokenizer, default_dataset_path, load_docs, parse_docs
from engine.data import BOS_LABEL


def test_bundled_dataset_is_found_and_has_32033_names():
    assert default_dataset_path().is_file()
    assert len(load_docs()) == 32033


def test_docs_are_cleaned_like_the_reference():
    assert parse_docs("\n  ann \n\n bo\n\n") == ["ann", "bo"]


def test_tokenizer_round_trip_and_bos():
    tokenizer = Tokenizer.from_docs(["ab", "ca"])
    assert tokenizer.chars == ("a", "b", "c")
    assert tokenizer.bos == 3 and tokenizer.vocab_size == 4
    assert tokenizer.encode("cab") == [2, 0, 1]
    assert tokenizer.decode([2, 0, 3]) == "ca"
    assert tokenizer.label(3) == "·"
    with pytest.raises(ValueError, match="'z'"):
        tokenizer.encode("z")


def test_unicode_letters_are_tokens(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("zoë\nchloé\n", encoding="utf-8")
    tokenizer = Tokenizer.from_docs(load_docs(path))
    assert "ë" in tokenizer.chars and "é" in tokenizer.chars


BAD_DATASETS = {
    "missing": (None, "not found"),
    "directory": ("DIR", "directory"),
    "empty": (b"", "empty"),
    "blank": (b"\n  \n\t\n", "blank"),
    "not utf-8": (b"ann\n\xff\xfe bob\n", "UTF-8"),
    "binary": (b"ann\x00\x01\n", "binary"),
    "symlink loop": ("LOOP", "is a symbolic link loop"),
}


def make_bad_dataset(tmp_path, content):
    path = tmp_path / "data.txt"
    if content == "DIR":
        path.mkdir()
    elif content == "LOOP":
        os.symlink(path.name, path)
    elif content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", sorted(BAD_DATASETS))
def test_bad_dataset_raises_a_clear_value_error(tmp_path, case):
    content, message = BAD_DATASETS[case]
    with pytest.raises(ValueError, match=message):
        load_docs(make_bad_dataset(tmp_path, content))


def test_a_byte_order_mark_is_not_a_token(tmp_path):
    path = tmp_path / "names.txt"
    path.write_bytes("\ufeffanna\nbob\n".encode("utf-8"))
    assert load_docs(path) == ["anna", "bob"]


def test_every_token_has_a_visible_label_of_its_own():
    # A bell, a tab, a literal middle dot, a literal control picture, a zero-width space, a
    # no-break space, a combining accent, a private-use character and a plain letter.
    tricky = "\x07\t·␇\u200b\xa0\u0301\ue000a"
    tokenizer = Tokenizer.from_docs([tricky])
    labels = {ch: tokenizer.label(i) for i, ch in enumerate(tokenizer.chars)}
    assert labels["\x07"] == "␇" and labels["\t"] == "␉"
    assert labels["·"] == "\\xb7" and labels["␇"] == "\\u2407"
    assert labels["\u200b"] == "\\u200b" and labels["a"] == "a"
    assert tokenizer.label(tokenizer.bos) == BOS_LABEL
    every = [*labels.values(), BOS_LABEL]
    assert len(set(every)) == len(every)
    assert all(label.isprintable() for label in every)
