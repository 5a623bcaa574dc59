"""The one way services refuse a request: a stable ``code`` for API clients and a message
for people."""


class Rejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SubmitRejected(Rejected):
    """A submit or skip that cannot be accepted; ``code`` is stable for API clients."""
