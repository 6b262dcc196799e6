"""The one error type for input a user gave and can fix: a setting, a file, the data."""

from __future__ import annotations


class InputError(ValueError):
    """A value given by the user (a setting, a file, the data) that cannot be used; the message
    names it and what was expected. The command line reports it in one line (exit 2); any other
    ``ValueError`` is a bug and keeps its traceback. A ``ValueError`` subclass, so that code
    catching ``ValueError`` around the library keeps working."""
