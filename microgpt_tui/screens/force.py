"""The `f` prompt: one keystroke chooses the next token instead of drawing it."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from engine.inspection import unknown_characters

# Enough of the vocabulary to remind the learner what is allowed, on one or two lines.
SHOWN_CHARS = 40


def vocabulary_hint(chars):
    shown = "".join(chars)
    return shown if len(shown) <= SHOWN_CHARS else shown[: SHOWN_CHARS - 1] + "…"


def vocabulary_refusal(name, tokenizer):
    """Why a typed name cannot be run through the model, or "" if it can."""
    unknown = unknown_characters(name, tokenizer)
    if not unknown:
        return ""
    listed = ", ".join(map(repr, unknown))
    return (f"{listed} {'is' if len(unknown) == 1 else 'are'} not in the vocabulary "
            f"({vocabulary_hint(tokenizer.chars)})")


class ForceTokenScreen(ModalScreen[str | None]):
    """Dismisses with the character typed, "" for enter (the end of the name), or None when
    cancelled. Whether the character is in the vocabulary is the app's to judge."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, chars):
        super().__init__()
        self.prompt = (f"Type the next letter ({vocabulary_hint(chars)}), or press enter to "
                       "end the name (·). Esc cancels.")

    def compose(self) -> ComposeResult:
        with Vertical(id="force"):
            yield Static(self.prompt)
            yield Input(max_length=1, id="force-input")

    def on_mount(self):
        self.query_one("#force").border_title = "Force the next token"

    def on_input_changed(self, event: Input.Changed):
        if event.value:
            self.dismiss(event.value)

    def on_input_submitted(self, event: Input.Submitted):
        self.dismiss(event.value)

    def action_cancel(self):
        self.dismiss(None)
