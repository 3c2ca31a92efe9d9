"""The ecosystem simulator and the generators that feed it."""
