"""The one exception the server's pieces raise for a request they refuse."""

from __future__ import annotations


class RequestError(Exception):
    """A request this server refuses: an HTTP status and a message that says what is wrong."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.headers = headers or {}
