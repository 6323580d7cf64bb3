"""microgpt-tui: a terminal app to watch microgpt learn, one step at a time."""

__version__ = "0.1.0"
