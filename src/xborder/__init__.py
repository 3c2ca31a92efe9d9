"""xborder: cross-border e-commerce and cross-border logistics as one ecosystem."""

__version__ = "0.1.0"
