"""The anatomy view's two experiments on one position (engine.attribution), as Rich renderables:
the next letter's logit split into what each part of the model wrote (d), and the position
beside itself with one letter changed or one head patched in from another name (c)."""

import re

from rich.console import Group
from rich.table import Table
from rich.text import Text

from engine.attribution import HeadPatch, LetterChange

from ..colours import BAR, BOLD_MARK, FAILED, NEGATIVE, POSITIVE
from ..widgets.vector_strip import vector_strip
from .force import vocabulary_refusal

TOP_LETTERS = 5
BAR_CELLS = 10  # the longest part's bar
BAR_LENGTH = 20  # a probability of 100 %
CHANGE_HINT = "3=o: letter 3 becomes o · 1.2 bob: layer 1's head 2 gets its output from bob"
LETTER_CHANGE = re.compile(r"\s*(\d+)\s*=\s*(\S)\s*$")
HEAD_PATCH = re.compile(r"\s*(\d+)\s*\.\s*(\d+)\s+(\S+)\s*$")


def parse_change(text, tokenizer):
    """The LetterChange or HeadPatch `text` asks for (numbers from 1, as the view shows
    them); a ValueError with a one-line reason when it is neither or names unknown letters."""
    if match := LETTER_CHANGE.match(text):
        index, letter = int(match[1]), match[2]
        if refusal := vocabulary_refusal(letter, tokenizer):
            raise ValueError(refusal)
        return LetterChange(index, tokenizer.encode(letter)[0])
    if match := HEAD_PATCH.match(text):
        layer, head, name = int(match[1]), int(match[2]), match[3]
        if refusal := vocabulary_refusal(name, tokenizer):
            raise ValueError(refusal)
        return HeadPatch(layer - 1, head - 1, tuple(tokenizer.document(name)))
    raise ValueError(f"{text!r} is not a change: type e.g. {CHANGE_HINT}")


def describe(patch, tokens, tokenizer):
    if isinstance(patch, LetterChange):
        old = tokenizer.label(tokens[patch.index]) if patch.index < len(tokens) else "?"
        return f"letter {patch.index} {old!r} → {tokenizer.label(patch.token)!r}"
    name = "".join(tokenizer.label(t) for t in patch.source[1:-1])
    return f"layer {patch.layer + 1} head {patch.head + 1}'s output from {name!r}"


def signed_bar(value, largest):
    cells = round(BAR_CELLS * abs(value) / largest) if largest else 0
    return Text("█" * cells, style=POSITIVE if value > 0 else NEGATIVE)


def attribution_section(attributions, tokenizer):
    """A table of the parts of each attribution's logit (the name's next letter, and the
    model's likeliest letter where that is another), with their difference."""
    heading = Text("Direct logit attribution (d)", style="bold underline")
    explanation = Text(
        "Each part: lm_head[letter] · what it wrote into the residual stream. No rmsnorm "
        "before lm_head, so the parts add up to the logit exactly (the remainder is float "
        "rounding); the embeddings share rmsnorm's scale.", style="dim")
    largest = max(abs(part.value) for a in attributions for part in a.parts)
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold")
    table.add_column("part")
    for attribution in attributions:
        table.add_column(f"logit of {tokenizer.label(attribution.token)!r}", justify="right")
        table.add_column("", width=BAR_CELLS, no_wrap=True)
    if len(attributions) == 2:
        table.add_column("difference", justify="right")
    rows = [[part.label for part in attributions[0].parts]]
    for attribution in attributions:
        rows.append([Text(f"{part.value:+.3f}") for part in attribution.parts])
        rows.append([signed_bar(part.value, largest) for part in attribution.parts])
    if len(attributions) == 2:
        rows.append([Text(f"{a.value - b.value:+.3f}", style="bold")
                     for a, b in zip(attributions[0].parts, attributions[1].parts)])
    for row in zip(*rows):
        table.add_row(*row)
    remainders = [cell for a in attributions
                  for cell in (Text(f"{a.remainder:+.1e}", style="dim"), "")]
    logits = [cell for a in attributions for cell in (Text(f"{a.logit:+.3f}", style="bold"), "")]
    if len(attributions) == 2:
        remainders.append("")
        logits.append(Text(f"{attributions[0].logit - attributions[1].logit:+.3f}",
                           style="bold"))
    table.add_row(Text("remainder (rounding)", style="dim"), *remainders)
    table.add_row(Text("= logit", style="bold"), *logits)
    return Group(Text(""), heading, explanation, table)


def top_letters(anatomy, tokenizer, target):
    probs = anatomy.drawn_probs
    ranked = sorted(range(len(probs)), key=lambda t: -probs[t])[:TOP_LETTERS]
    lines = []
    for t in ranked:
        line = Text(f"{tokenizer.label(t):>3} {probs[t]:6.1%} ",
                    style=BOLD_MARK if t == target else "")
        lines.append(line.append("█" * round(BAR_LENGTH * probs[t]), style=BAR))
    lines.append(Text(f"next {tokenizer.label(target)!r}: {probs[target]:.2%}",
                      style=BOLD_MARK))
    return Text("\n").join(lines)


def attention_strips(anatomy, tokenizer, width):
    labels = tuple(tokenizer.label(t) for t in anatomy.tokens[: anatomy.position + 1])
    several = len(anatomy.layers) > 1
    lines = []
    for li, layer in enumerate(anatomy.layers):
        for h, head in enumerate(layer.heads):
            lines.append(Text(f"{f'layer {li + 1} ' if several else ''}head {h + 1} attends",
                              style="bold"))
            lines += vector_strip(head.weights, width, probabilities=True, labels=labels)
    return Text("\n").join(lines)


def counterfactual_section(counterfactual, description, tokenizer, width):
    """The position and the changed position side by side: the likeliest next letters (the
    name's own next letter in orange) and where every head attends. `counterfactual` is a
    string when the change could not be made."""
    heading = Text(f"Counterfactual (c): {description}", style="bold underline")
    if isinstance(counterfactual, str):
        return Group(Text(""), heading, Text(counterfactual, style=FAILED))
    original, patched = counterfactual.original, counterfactual.patched
    target = original.target
    column = max(20, (width - 3) // 2)
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold")

    def name(anatomy):
        letters = "".join(tokenizer.label(t) for t in anatomy.tokens[1:-1])
        return f"{letters!r} at {anatomy.position}: {tokenizer.label(anatomy.token)} → ?"

    table.add_column(f"original {name(original)}", width=column)
    table.add_column(f"changed {name(patched)}", width=column)
    table.add_row(top_letters(original, tokenizer, target),
                  top_letters(patched, tokenizer, target))
    table.add_row(Text(""), Text(""))
    table.add_row(attention_strips(original, tokenizer, column),
                  attention_strips(patched, tokenizer, column))
    summary = Text.assemble((f"P(next = {tokenizer.label(target)!r}) "
                             f"{original.drawn_probs[target]:.2%} → "
                             f"{patched.drawn_probs[target]:.2%}. ", "bold"),
                            ("A patched head attends as before (only its head_out is swapped); "
                             "a changed letter changes what every later head reads.", "dim"))
    return Group(Text(""), heading, summary, table)
