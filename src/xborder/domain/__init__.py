"""The pure domain core: value objects, entities and rules. No I/O beyond shipped reference data."""
