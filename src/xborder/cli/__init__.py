"""The command-line interface (Typer + Rich): a thin layer over the service functions."""
