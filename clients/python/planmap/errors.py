"""The one exception this client raises, built from the service's error body.

The service answers every failure with ``{"error": {"code", "message", "requestId",
"fields"?}}``; :class:`PlanmapError` keeps those parts as attributes and puts them in
its message, so a traceback alone says what was wrong (which field, which job). The
message never carries a credential: callers pass the secrets they hold and any
occurrence is masked before the message is built.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional

#: What replaces a secret that would otherwise appear in a message.
REDACTED = "[redacted]"
#: Secrets shorter than this are not masked (masking "a" would mangle every message).
MIN_SECRET_LEN = 4
#: Most characters of a non-JSON response body quoted in a message.
MAX_BODY_EXCERPT = 300


def redact(text: str, secrets: Iterable[Optional[str]]) -> str:
    """``text`` with every given secret replaced by :data:`REDACTED`."""
    for s in secrets:
        if s and len(s) >= MIN_SECRET_LEN:
            text = text.replace(s, REDACTED)
    return text


class PlanmapError(Exception):
    """A request to the planmap service failed, or a job did not complete.

    Attributes:
        status: the HTTP status (``None`` when the server could not be reached or the
            failure is a job's, not a request's).
        code: the service's error code (``validation_failed``, ``unauthorized``, ...),
            or one of this client's: ``unreachable``, ``bad_response``,
            ``job_failed``, ``job_cancelled``, ``timeout``, ``no_plan``.
        message: the service's message (or this client's explanation).
        fields: for validation errors, ``[{"path": ..., "message": ...}]``.
        request_id: the service's id for the request, to find it in its logs.
        job_id: the job concerned, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        fields: Optional[list] = None,
        request_id: Optional[str] = None,
        job_id: Optional[str] = None,
        secrets: Iterable[Optional[str]] = (),
    ) -> None:
        secrets = list(secrets)
        self.status = status
        self.code = code
        self.message = redact(message, secrets)
        self.fields = [
            {"path": str(f.get("path", "")), "message": redact(str(f.get("message", "")), secrets)}
            for f in (fields or [])
            if isinstance(f, dict)
        ]
        self.request_id = request_id
        self.job_id = job_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = []
        if self.status is not None:
            head.append(f"HTTP {self.status}")
        if self.code:
            head.append(self.code)
        text = (" ".join(head) + ": " if head else "") + self.message
        # The service's message names one invalid field in full but only the paths of
        # several: list each field's own message unless the text already has it.
        details = [f"{f['path'] or '<body>'}: {f['message']}" for f in self.fields]
        missing = [d for d in details if d not in text]
        if missing:
            text += " [" + "; ".join(missing) + "]"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    @classmethod
    def from_response(cls, status: int, body: bytes, *, secrets: Iterable[Optional[str]] = (), job_id: Optional[str] = None) -> "PlanmapError":
        """The error a failed HTTP response describes (any body, JSON or not)."""
        try:
            doc: Any = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        err = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(err, dict):
            return cls(
                str(err.get("message") or "the service gave no message"),
                status=status,
                code=err.get("code"),
                fields=err.get("fields") if isinstance(err.get("fields"), list) else None,
                request_id=err.get("requestId"),
                job_id=job_id,
                secrets=secrets,
            )
        # Not the service's error shape (a proxy in between, or not planmap at all).
        excerpt = body.decode("utf-8", "replace").strip()[:MAX_BODY_EXCERPT] or "(empty body)"
        return cls(f"unexpected response: {excerpt}", status=status, code="bad_response", job_id=job_id, secrets=secrets)
