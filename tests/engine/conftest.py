import pytest

from engine import Config, Trainer, load_docs

TINY = Config(n_layer=1, n_embd=8, n_head=2, block_size=8, num_steps=50, seed=3)
TINY_DOCS = ["anna", "bob", "clara", "dave", "eve", "frank", "gina", "hal"]


@pytest.fixture(scope="session")
def names():
    return load_docs()


@pytest.fixture
def tiny_trainer():
    return Trainer(TINY, TINY_DOCS)
