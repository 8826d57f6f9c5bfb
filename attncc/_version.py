"""attncc's version: generated modules and results carry it (its own module, so every floor of
the package can read it without importing the package root, which imports the driver)."""

__version__ = "0.1.0"
