"""Errors that carry a message for a person (already translated)."""


class UserError(Exception):
    """Bad input from a person: shown as one line in their language, nothing written."""
