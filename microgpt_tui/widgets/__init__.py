"""The widgets of the panes and views, one per module."""
