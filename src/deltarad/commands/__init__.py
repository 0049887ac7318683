"""CLI command groups; each module defines register(app). Shared helpers live in _common."""
