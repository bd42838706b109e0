"""The HTTP client of a ``planmap serve`` service, on the standard library only.

One :class:`Client` holds the server address and credential; it submits a plan with
its repository (``POST /api/agent/map-to-code``), polls the job
(``GET /api/agent/jobs/{id}``) until it ends, and reads every page of its mappings
(``GET /api/agent/jobs/{id}/mappings``). Failures become :class:`PlanmapError`.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, List, Optional, Sequence

from .errors import PlanmapError
from .mappings import Mappings

#: Where ``planmap serve`` listens by default.
DEFAULT_SERVER = "http://127.0.0.1:3000"
#: Environment variables read when no server or API key is passed.
SERVER_ENV = "PLANMAP_SERVER"
API_KEY_ENV = "PLANMAP_API_KEY"
#: The service's path prefix.
API_PREFIX = "/api/agent"
#: Seconds one HTTP request may take.
DEFAULT_HTTP_TIMEOUT = 30.0
#: Seconds :meth:`Client.wait` waits for a job, and between two polls.
DEFAULT_WAIT_TIMEOUT = 600.0
DEFAULT_POLL = 0.5
#: Mappings asked for per page: the most the service serves in one (its MAX_PAGE).
PAGE_SIZE = 1000
#: Times a request is retried when the service says to retry (429, 503).
MAX_RETRIES = 3
#: Longest wait between retries, whatever Retry-After says (seconds).
MAX_RETRY_WAIT = 30.0
#: HTTP statuses the service uses for "try again later".
RETRYABLE_STATUSES = frozenset({429, 503})


class Client:
    """A client of one planmap service with one credential.

    Args:
        server: the service's base URL (default ``$PLANMAP_SERVER`` or
            ``http://127.0.0.1:3000``).
        api_key: sent as ``X-API-Key`` (default ``$PLANMAP_API_KEY``).
        token: a JWT, sent as ``Authorization: Bearer``; wins over ``api_key``.
        timeout: seconds for each HTTP request.

    With neither credential nothing is sent, which a service started with
    ``AUTH_DISABLED=true`` on a loopback address accepts.
    """

    def __init__(self, server: Optional[str] = None, api_key: Optional[str] = None, token: Optional[str] = None, timeout: float = DEFAULT_HTTP_TIMEOUT) -> None:
        self.server = (server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        self.token = token
        self.timeout = timeout
        # Secrets to mask in any message this client builds (repository tokens are added
        # per call, as they are passed per submission).
        self._secrets = [s for s in (self.api_key, self.token) if s]

    def __repr__(self) -> str:
        # The credential's kind only, never its value.
        auth = "token" if self.token else "api_key" if self.api_key else "none"
        return f"Client(server={self.server!r}, auth={auth})"

    # -- HTTP ----------------------------------------------------------------------

    def _request(self, method: str, path: str, *, body: Any = None, headers: Optional[Dict[str, str]] = None, query: Optional[Dict[str, Any]] = None, secrets: Sequence[Optional[str]] = (), job_id: Optional[str] = None) -> Any:
        """One API call's parsed JSON answer; retried while the service asks to retry."""
        secrets = [*self._secrets, *secrets]
        url = self.server + API_PREFIX + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode("utf-8")
        h = {"Accept": "application/json", "User-Agent": "planmap-client-python"}
        if data is not None:
            h["Content-Type"] = "application/json"
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        elif self.api_key:
            h["X-API-Key"] = self.api_key
        h.update(headers or {})
        for attempt in range(MAX_RETRIES + 1):
            req = urllib.request.Request(url, data=data, method=method, headers=h)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as e:
                raw = e.read()
                if e.code in RETRYABLE_STATUSES and attempt < MAX_RETRIES:
                    time.sleep(_retry_wait(e.headers.get("Retry-After"), attempt))
                    continue
                raise PlanmapError.from_response(e.code, raw, secrets=secrets, job_id=job_id) from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise PlanmapError(f"cannot reach the planmap service at {self.server}: {reason}", code="unreachable", job_id=job_id, secrets=secrets) from None
            try:
                return json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise PlanmapError(f"{method} {path} answered with something that is not JSON", code="bad_response", job_id=job_id, secrets=secrets) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    # -- the API -------------------------------------------------------------------

    def submit(
        self,
        plan: str,
        repo: str,
        *,
        plan_format: Optional[str] = None,
        branch: Optional[str] = None,
        commit: Optional[str] = None,
        graph: Optional[str] = None,
        target_paths: Optional[Sequence[str]] = None,
        repo_token: Optional[str] = None,
        analysis_id: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> str:
        """Submit a plan to map against ``repo`` (a git URL, or a local path when the
        service allows them); the job's id.

        ``plan_format`` is one of the service's formats (``explain``, ``formatted``,
        ``event-log``, ``rest``, ``query-profile``, ``dag-nodes``); absent, the service
        detects it. ``repo_token`` lets the service clone a private repository: it is
        sent once and the service never stores it. An ``idempotency_key`` makes a
        repeated submission return the same job; when none is given one is made, so the
        retries this client does itself can never create a second job.
        """
        body: Dict[str, Any] = {"repoUrl": repo, "plan": plan}
        optional = {"planFormat": plan_format, "branch": branch, "commit": commit, "graph": graph, "analysisId": analysis_id, "token": repo_token}
        body.update({k: v for k, v in optional.items() if v is not None})
        if target_paths is not None:
            body["targetPaths"] = list(target_paths)
        key = idempotency_key or f"planmap-client-{uuid.uuid4()}"
        answer = self._request("POST", "/map-to-code", body=body, headers={"Idempotency-Key": key}, secrets=[repo_token])
        job = answer.get("jobId") if isinstance(answer, dict) else None
        if not job:
            raise PlanmapError(f"the submission's answer has no jobId: {answer!r}"[:300], code="bad_response", secrets=[*self._secrets, repo_token])
        return job

    def status(self, job_id: str) -> Dict[str, Any]:
        """The job's current view: ``status``, ``stage``, ``progress``, ``summary``,
        ``error``, ``repo``, ``graph``, ..."""
        return self._request("GET", f"/jobs/{urllib.parse.quote(job_id, safe='')}", job_id=job_id)

    def cancel(self, job_id: str) -> Dict[str, Any]:
        """Cancel a queued or running job (409 ``job_ended`` when it already ended)."""
        return self._request("POST", f"/jobs/{urllib.parse.quote(job_id, safe='')}/cancel", job_id=job_id)

    def wait(self, job_id: str, timeout: float = DEFAULT_WAIT_TIMEOUT, poll: float = DEFAULT_POLL) -> Dict[str, Any]:
        """Poll until the job ends; its final view when it completed.

        Raises :class:`PlanmapError` naming the job when it failed (with the service's
        reason), was cancelled, or is still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            view = self.status(job_id)
            state = view.get("status")
            # completed, failed and cancelled are final (as in the service's event
            # stream); anything else (queued, running) is polled again.
            if state == "completed":
                return view
            if state == "failed":
                raise PlanmapError(f"job {job_id} failed: {view.get('error') or 'no reason given'}", code="job_failed", job_id=job_id, secrets=self._secrets)
            if state == "cancelled":
                raise PlanmapError(f"job {job_id} was cancelled", code="job_cancelled", job_id=job_id, secrets=self._secrets)
            left = deadline - time.monotonic()
            if left <= 0:
                progress = view.get("progress") or {}
                raise PlanmapError(
                    f"job {job_id} did not finish within {timeout:g} s (status {state}, stage {view.get('stage')}, "
                    f"{progress.get('nodesDone', 0)}/{progress.get('nodesTotal', 0)} nodes); it keeps running on the service",
                    code="timeout",
                    job_id=job_id,
                )
            time.sleep(min(poll, left))

    def mappings(self, job_id: str, *, status: Optional[Sequence[str]] = None, min_confidence: Optional[float] = None) -> List[Dict[str, Any]]:
        """Every mapping of the job, in plan order, following the pages to the end.

        ``status`` keeps only mappings with one of those statuses (``confirmed``,
        ``probable``, ``uncertain``, ``unmapped``); ``min_confidence`` only those at
        least that confident.
        """
        return self._pages(job_id, status=status, min_confidence=min_confidence)[0]

    def _pages(self, job_id: str, *, status: Optional[Sequence[str]] = None, min_confidence: Optional[float] = None) -> "tuple[List[Dict[str, Any]], Dict[str, Any]]":
        """Every mapping, and the last page's envelope (summary, repo, graph)."""
        out: List[Dict[str, Any]] = []
        offset: Optional[int] = 0
        page: Dict[str, Any] = {}
        path = f"/jobs/{urllib.parse.quote(job_id, safe='')}/mappings"
        while offset is not None:
            query = {"limit": PAGE_SIZE, "offset": offset, "status": ",".join(status) if status else None, "minConfidence": min_confidence}
            page = self._request("GET", path, query=query, job_id=job_id)
            rows = page.get("mappings") or []
            out.extend(rows)
            nxt = (page.get("page") or {}).get("nextOffset")
            # A next offset that does not move forward would loop for ever.
            offset = nxt if isinstance(nxt, int) and nxt > offset and rows else None
        return out, page

    def map(self, plan: str, repo: str, *, timeout: float = DEFAULT_WAIT_TIMEOUT, poll: float = DEFAULT_POLL, **submit_args: Any) -> Mappings:
        """Submit, wait and read the results: the job's :class:`Mappings`."""
        job = self.submit(plan, repo, **submit_args)
        view = self.wait(job, timeout=timeout, poll=poll)
        rows, _ = self._pages(job)
        return Mappings(rows, job_id=job, summary=view.get("summary"), repo=view.get("repo"), graph=view.get("graph"))


def _retry_wait(retry_after: Optional[str], attempt: int) -> float:
    """Seconds to wait before retry ``attempt``: the server's Retry-After, or a short
    doubling back-off, capped at :data:`MAX_RETRY_WAIT`."""
    try:
        wait = float(retry_after) if retry_after is not None else 2.0 ** attempt
    except ValueError:
        wait = 2.0 ** attempt
    return max(0.0, min(wait, MAX_RETRY_WAIT))
