"""A job's mappings as a plain list of dicts that also reads well in a terminal and a
notebook: ``repr()`` is a compact text table and ``_repr_html_`` an HTML one (node id,
operator, status, confidence, file:lines, symbol). No pandas needed.
"""

from __future__ import annotations

import html
from typing import Any, Dict, Iterable, List, Optional

#: Widest a text-table cell gets before it is cut with an ellipsis.
MAX_CELL_WIDTH = 60
#: Most rows ``repr()`` shows (a notebook's HTML table shows them all).
MAX_REPR_ROWS = 200
#: The table's columns: heading and how to get the cell from a mapping.
COLUMNS = ("node", "operator", "status", "confidence", "code", "symbol")
#: Statuses in the order the summary line lists them.
STATUS_ORDER = ("confirmed", "probable", "uncertain", "unmapped", "infrastructure")


def code_location(m: Dict[str, Any]) -> str:
    """``file:lines`` of a mapping, or ``""`` when it points at no code."""
    code = m.get("mappedCode")
    if not isinstance(code, dict) or not code.get("file"):
        return ""
    lines = code.get("lines") or ""
    return f"{code['file']}:{lines}" if lines else str(code["file"])


def _cells(m: Dict[str, Any]) -> List[str]:
    code = m.get("mappedCode") if isinstance(m.get("mappedCode"), dict) else {}
    conf = m.get("confidence")
    return [
        str(m.get("dagNodeId", "")),
        str(m.get("operator", "")),
        str(m.get("status", "")),
        f"{conf:.2f}" if isinstance(conf, (int, float)) else "",
        code_location(m),
        str(code.get("symbol") or ""),
    ]


def _cut(s: str) -> str:
    return s if len(s) <= MAX_CELL_WIDTH else s[: MAX_CELL_WIDTH - 1] + "…"


class Mappings(list):
    """The mappings of one job (each a dict in the ``planmap map --format json``
    shape: ``dagNodeId``, ``operator``, ``status``, ``confidence``, ``mappedCode``,
    ``explanation``, ``alternatives``, ``ownership``, ...).

    Attributes:
        job_id: the service's job.
        summary: the job's summary (node counts by status, timings, ...).
        repo: the repository the job mapped against (``url``, ``branch``, ``commit``).
        graph: the mapping graph used (``name``, ``version``).
    """

    def __init__(self, rows: Iterable[Dict[str, Any]] = (), *, job_id: Optional[str] = None, summary: Any = None, repo: Any = None, graph: Any = None) -> None:
        super().__init__(rows)
        self.job_id = job_id
        self.summary = summary
        self.repo = repo
        self.graph = graph

    def by_operator(self, name: str) -> "List[Dict[str, Any]]":
        """The mappings whose operator is ``name`` or starts with it (``"HashAggregate"``)."""
        return [m for m in self if str(m.get("operator", "")).startswith(name)]

    def _headline(self) -> str:
        counts: Dict[str, int] = {}
        for m in self:
            counts[str(m.get("status"))] = counts.get(str(m.get("status")), 0) + 1
        order = [s for s in STATUS_ORDER if s in counts] + sorted(s for s in counts if s not in STATUS_ORDER)
        by_status = ", ".join(f"{counts[s]} {s}" for s in order)
        job = f"job {self.job_id}, " if self.job_id else ""
        return f"Mappings({job}{len(self)} nodes" + (f": {by_status}" if by_status else "") + ")"

    def __repr__(self) -> str:
        rows = [[_cut(c) for c in _cells(m)] for m in self[:MAX_REPR_ROWS]]
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(COLUMNS)]
        fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
        lines = [self._headline(), fmt(COLUMNS), fmt(["-" * w for w in widths])]
        lines += [fmt(r) for r in rows]
        if len(self) > MAX_REPR_ROWS:
            lines.append(f"... {len(self) - MAX_REPR_ROWS} more")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in COLUMNS)
        body = []
        for m in self:
            cells = _cells(m)
            # The explanation as the row's tooltip: the table stays compact.
            title = html.escape(str(m.get("explanation") or ""), quote=True)
            body.append(f"<tr title=\"{title}\">" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        return f"<div><p>{html.escape(self._headline())}</p><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
