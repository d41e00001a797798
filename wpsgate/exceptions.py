"""OWS 1.1 exceptions: every failure a client can cause is one of these.

Each class carries its ``exceptionCode`` (OWS Common 1.1 Table 25 and the WPS
1.0.0 additions) and the HTTP status OWS Common 1.1 section 8.6 assigns to it, so
the protocol layer never decides a status code by hand.
"""
from __future__ import annotations


class OWSException(Exception):
    """Base class: an error that is reported to the client as an ExceptionReport."""

    code = "NoApplicableCode"
    http_status = 500

    def __init__(self, message: str = "", locator: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locator = locator

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"{type(self).__name__}({self.message!r}, locator={self.locator!r})"


class NoApplicableCode(OWSException):
    """A server fault, or a client error no other code describes (HTTP status given per use)."""

    def __init__(self, message: str = "", locator: str | None = None, http_status: int = 500) -> None:
        super().__init__(message, locator)
        self.http_status = http_status


class MalformedRequest(NoApplicableCode):
    """A request body that is not well-formed XML (OWS Common: NoApplicableCode, 400)."""

    def __init__(self, message: str = "", locator: str | None = None) -> None:
        super().__init__(message, locator, http_status=400)


class MissingParameterValue(OWSException):
    code = "MissingParameterValue"
    http_status = 400


class InvalidParameterValue(OWSException):
    code = "InvalidParameterValue"
    http_status = 400


class VersionNegotiationFailed(OWSException):
    code = "VersionNegotiationFailed"
    http_status = 400


class InvalidUpdateSequence(OWSException):
    code = "InvalidUpdateSequence"
    http_status = 400


class OperationNotSupported(OWSException):
    code = "OperationNotSupported"
    http_status = 501


class OptionNotSupported(OWSException):
    code = "OptionNotSupported"
    http_status = 501


class StorageNotSupported(OWSException):
    """WPS 1.0.0 Table 62: storeExecuteResponse=true for a process that cannot store."""

    code = "StorageNotSupported"
    http_status = 400


class NotEnoughStorage(OWSException):
    code = "NotEnoughStorage"
    http_status = 507


class FileSizeExceeded(OWSException):
    """WPS 1.0.0: an input larger than the server accepts (maxsingleinputsize)."""

    code = "FileSizeExceeded"
    http_status = 413


class ServerBusy(OWSException):
    code = "ServerBusy"
    http_status = 503


class RequestTooLarge(NoApplicableCode):
    """A request body over maxrequestsize."""

    def __init__(self, message: str = "", locator: str | None = None) -> None:
        super().__init__(message, locator, http_status=413)
