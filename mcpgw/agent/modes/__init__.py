"""The agent modes: ``fix`` (tests fix), ``refactor`` and ``spec_first``; each plans, then applies."""
