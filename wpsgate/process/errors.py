"""The exception a handler raises to fail with a message meant for the client."""


class ProcessError(Exception):
    """Raised by a handler: the job fails and the client sees exactly this message."""
