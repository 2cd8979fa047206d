"""The version of anynet, in one place (the package and the file format both read it)."""

__version__ = "0.1.0"
