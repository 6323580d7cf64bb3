"""What the engine shows the outside world: frozen records of plain floats and tuples.

No live `Value` is ever stored here, so a UI thread can read a record while training goes on.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class StepResult:
    step: int  # 1-based number of the step just taken
    num_steps: int
    doc: str
    tokens: tuple  # [BOS] + the document's ids + [BOS]
    loss: float
    position_losses: tuple  # loss at each trained position
    lr: float  # learning rate this step used
    attention: tuple  # [layer][head][query_pos][key_pos]
    kv_cache: tuple  # [layer][pos] -> (key vector, value vector)
    kv_grads: tuple  # [layer][pos] -> (grad of key, grad of value), after backward
    logits: tuple  # [pos][token]
    probs: tuple  # [pos][token]
    grad_norms: tuple  # ((matrix name, L2 norm of its gradient), ...)
    graph_size: int  # operation nodes (not parameters or constants) in this step's graph

    @property
    def n_positions(self):
        return len(self.position_losses)

    @property
    def inputs(self):
        return self.tokens[: self.n_positions]

    @property
    def targets(self):
        return self.tokens[1 : self.n_positions + 1]


@dataclass(frozen=True)
class TokenEvent:
    position: int
    input_token: int  # the token fed in at this position
    logits: tuple  # lm_head's output at this position, before temperature and softmax
    temperature: float  # the settings `probs` was made with
    top_k: int | None
    probs: tuple  # next-token distribution the choice was made from (temperature, top-k)
    token: int  # the token chosen (drawn, or forced by the caller)
    forced: bool
    attention: tuple  # [layer][head][key_pos]: how this position attended over the cache
    kv_cache: tuple  # [layer][pos] -> (key vector, value vector), this position included
    text: str  # the sample so far, this token included
    done: bool  # BOS was chosen or the context is full: the sample is finished


FORWARD, BACKWARD, UPDATE = "forward", "backward", "update"


@dataclass(frozen=True)
class StepStage:
    """Where a training step taken stage by stage (`Trainer.staged_step()`) has got to.

    One forward stage per trained position, then backward, then the Adam update. Each record
    holds everything known so far, so the newest one alone describes the step.
    """

    kind: str  # FORWARD, BACKWARD or UPDATE
    number: int  # 1-based number of this stage
    n_stages: int  # n_positions forward stages + backward + update
    step: int  # 1-based number of the step being taken
    doc: str
    tokens: tuple  # [BOS] + the document's ids + [BOS]
    n_positions: int  # positions the step trains on
    position_losses: tuple  # loss at each position computed so far
    probs: tuple  # [pos][token], positions computed so far
    kv_cache: tuple  # [layer][pos] -> (key vector, value vector), positions so far
    attention: tuple  # [layer][head][query_pos][key_pos], positions so far
    loss: float | None = None  # mean over all positions, once the last one is computed
    kv_grads: tuple | None = None  # [layer][pos] -> (grad of key, grad of value), backward on
    grad_norms: tuple | None = None  # ((matrix name, L2 norm of its gradient), ...), backward on
    update_norms: tuple | None = None  # ((matrix name, L2 norm of Adam's change), ...), update
    lr: float | None = None  # learning rate the update used
    result: StepResult | None = None  # the finished step (update stage), equal to step()'s

    @property
    def positions_done(self):
        return len(self.position_losses)


@dataclass(frozen=True)
class OptimizerSnapshot:
    """The optimizer's view of every parameter after step `step`, flat in parameter order."""

    step: int  # steps taken (0: none yet)
    lr: float  # learning rate the last step used
    layout: tuple  # (name, rows, cols, offset into the flat tuples) of each weight matrix
    weights: tuple
    grads: tuple | None  # the last step's gradients; None until a step is taken here
    m: tuple  # Adam's first moment
    v: tuple  # Adam's second moment
    update: tuple | None  # lr_t * m_hat / (sqrt(v_hat) + eps): what the last step subtracted

    def matrix(self, values, index):
        """Matrix `index` of the flat `values` (one of this snapshot's fields) as rows."""
        _, rows, cols, offset = self.layout[index]
        return tuple(values[offset + r * cols: offset + (r + 1) * cols] for r in range(rows))
