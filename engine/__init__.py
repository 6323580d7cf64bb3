"""microgpt in pure Python: scalar autograd, the GPT, Adam, and a step-by-step trainer.

Nothing here imports a third-party package, so the engine runs (and is tested) headless.
"""

from .baseline import BigramCounts, bigram_loss, count_truncated
from .config import Config
from .data import Tokenizer, default_dataset_path, load_docs, parse_docs
from .fused import FUSED_OPS
from .model import FLOAT_OPS, GRAPH_OPS, forward_document, gpt, init_params, param_shapes
from .sampler import Sampler
from .trace import StepResult, StepStage, TokenEvent
from .trainer import StagedStep, Trainer
from .value import Value

__all__ = [
    "FLOAT_OPS",
    "FUSED_OPS",
    "GRAPH_OPS",
    "BigramCounts",
    "Config",
    "Sampler",
    "StagedStep",
    "StepResult",
    "StepStage",
    "TokenEvent",
    "Tokenizer",
    "Trainer",
    "Value",
    "bigram_loss",
    "count_truncated",
    "default_dataset_path",
    "forward_document",
    "gpt",
    "init_params",
    "load_docs",
    "param_shapes",
    "parse_docs",
]
