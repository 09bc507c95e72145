"""The one exception type that reaches the user as a one-line message (exit code 2)."""


class UserError(Exception):
    """Bad input or an unusable environment: the message says what to change.

    The CLI prints ``error: <message>`` and exits 2; everything else that escapes is a bug
    and shows a traceback only with ``--debug``.
    """
