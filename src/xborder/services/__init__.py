"""Use cases. Every entry point (CLI, API, simulator) calls these and nothing below them."""
