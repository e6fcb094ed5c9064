"""One module per screen; each screen has its own ``.tcss`` next to it."""
