"""The one-call entry points: map a PySpark DataFrame (:func:`map_dataframe`) or a plan's
text (:func:`map_plan`) to the code that produced it, and the helper that reads a
DataFrame's ``EXPLAIN FORMATTED`` text without printing it (:func:`formatted_plan`).

PySpark is not a dependency: it is only touched through the DataFrame passed in.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Optional

from .client import DEFAULT_POLL, DEFAULT_WAIT_TIMEOUT, Client
from .errors import PlanmapError
from .mappings import Mappings

#: The explain mode whose output the service reads best for a DataFrame.
EXPLAIN_MODE = "formatted"


def formatted_plan(df: Any) -> str:
    """The ``EXPLAIN FORMATTED`` text of a PySpark DataFrame, classic or Spark Connect.

    Raises :class:`PlanmapError` (code ``no_plan``) for anything else.
    """
    # Classic PySpark: ask the JVM for the text DataFrame.explain() would print.
    jdf = getattr(df, "_jdf", None)
    sc = getattr(df, "_sc", None)
    if jdf is not None and sc is not None and getattr(sc, "_jvm", None) is not None:
        return str(sc._jvm.PythonSQLUtils.explainString(jdf.queryExecution(), EXPLAIN_MODE))
    # Spark Connect: the client asks the server for the same text.
    explain_string = getattr(df, "_explain_string", None)
    if callable(explain_string):
        return str(explain_string(mode=EXPLAIN_MODE))
    # Another DataFrame-like with a PySpark-style explain(): capture what it prints.
    explain = getattr(df, "explain", None)
    if callable(explain) and hasattr(df, "schema"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            explain(mode=EXPLAIN_MODE)
        text = out.getvalue()
        if text.strip():
            return text
    raise PlanmapError(
        f"cannot read a physical plan from a {type(df).__module__}.{type(df).__qualname__}: pass a PySpark DataFrame "
        "(classic or Spark Connect), or the plan's text to map_plan()",
        code="no_plan",
    )


def map_plan(
    plan: str,
    repo: str,
    *,
    server: Optional[str] = None,
    api_key: Optional[str] = None,
    token: Optional[str] = None,
    timeout: float = DEFAULT_WAIT_TIMEOUT,
    poll: float = DEFAULT_POLL,
    **submit_args: Any,
) -> Mappings:
    """Map a plan's text (any format the service reads; set ``plan_format`` to skip
    detection) to ``repo``'s code, waiting for the job; its :class:`Mappings`.

    ``submit_args`` are :meth:`Client.submit`'s: ``plan_format``, ``branch``,
    ``commit``, ``graph``, ``target_paths``, ``repo_token``, ``analysis_id``,
    ``idempotency_key``.
    """
    client = Client(server, api_key=api_key, token=token)
    return client.map(plan, repo, timeout=timeout, poll=poll, **submit_args)


def map_dataframe(df: Any, repo: str, *, server: Optional[str] = None, api_key: Optional[str] = None, **kw: Any) -> Mappings:
    """Map a PySpark DataFrame's physical plan to the lines of ``repo`` that built it.

    The plan is the DataFrame's ``EXPLAIN FORMATTED`` text (nothing is executed or
    printed); other keywords are :func:`map_plan`'s.
    """
    kw.setdefault("plan_format", EXPLAIN_MODE)
    return map_plan(formatted_plan(df), repo, server=server, api_key=api_key, **kw)
