"""Tests of the client's own logic that need neither planmap nor Spark: error messages
built from the service's error body, secret masking, the result tables, and retrying
when the service asks to (against a tiny loopback HTTP server).
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import planmap.client  # noqa: E402
from planmap import Client, Mappings, PlanmapError  # noqa: E402


def mapping(node: str, operator: str, status: str = "confirmed", code=None, confidence: float = 0.97) -> dict:
    return {"dagNodeId": node, "operator": operator, "status": status, "confidence": confidence, "mappedCode": code, "explanation": f"why {node}"}


class ErrorTest(unittest.TestCase):
    def test_the_service_error_body_becomes_the_message(self) -> None:
        body = json.dumps({"error": {"code": "validation_failed", "message": "2 fields are invalid: repoUrl, commit", "requestId": "r-1", "fields": [
            {"path": "repoUrl", "message": "is required"}, {"path": "commit", "message": "must be a commit hash"}]}}).encode()
        e = PlanmapError.from_response(422, body)
        self.assertEqual((e.status, e.code, e.request_id), (422, "validation_failed", "r-1"))
        self.assertEqual(str(e), "HTTP 422 validation_failed: 2 fields are invalid: repoUrl, commit [repoUrl: is required; commit: must be a commit hash] (request id r-1)")

    def test_one_field_is_not_repeated(self) -> None:
        body = json.dumps({"error": {"code": "validation_failed", "message": "repoUrl: is required", "fields": [{"path": "repoUrl", "message": "is required"}]}}).encode()
        self.assertEqual(str(PlanmapError.from_response(422, body)), "HTTP 422 validation_failed: repoUrl: is required")

    def test_a_body_that_is_not_the_service_s_is_quoted_briefly(self) -> None:
        e = PlanmapError.from_response(502, b"<html>Bad gateway</html>" + b"x" * 1000)
        self.assertEqual(e.code, "bad_response")
        self.assertIn("Bad gateway", str(e))
        self.assertLess(len(str(e)), 400)

    def test_secrets_are_masked(self) -> None:
        body = json.dumps({"error": {"code": "x", "message": "bad sekrit-key-123", "fields": [{"path": "token", "message": "sekrit-key-123 is odd"}]}}).encode()
        e = PlanmapError.from_response(400, body, secrets=["sekrit-key-123", None])
        self.assertNotIn("sekrit-key-123", str(e))
        self.assertIn("[redacted]", str(e))


class MappingsTest(unittest.TestCase):
    def rows(self) -> Mappings:
        code = {"file": "jobs/orders.py", "lines": "31-32", "lineStart": 31, "lineEnd": 32, "symbol": "revenue_by_region"}
        return Mappings([mapping("7", "BroadcastHashJoin", code=code), mapping("12", "AdaptiveSparkPlan", "infrastructure", confidence=0.0),
                         mapping("3", "Project <script>", "probable", code=dict(code, file="a/" + "long" * 30 + ".py"))], job_id="j-1", summary={"nodes": 3})

    def test_repr_is_a_table_with_a_headline(self) -> None:
        lines = repr(self.rows()).splitlines()
        self.assertEqual(lines[0], "Mappings(job j-1, 3 nodes: 1 confirmed, 1 probable, 1 infrastructure)")
        self.assertEqual(lines[1].split(), ["node", "operator", "status", "confidence", "code", "symbol"])
        self.assertIn("jobs/orders.py:31-32", lines[3])
        self.assertTrue(all(len(cell) <= planmap.mappings.MAX_CELL_WIDTH for cell in lines[5].split("  ")))
        self.assertIn("…", lines[5])

    def test_html_is_escaped(self) -> None:
        page = self.rows()._repr_html_()
        self.assertIn("Project &lt;script&gt;", page)
        self.assertNotIn("<script>", page)
        self.assertIn('title="why 7"', page)

    def test_it_stays_a_list(self) -> None:
        rows = self.rows()
        self.assertEqual(len(rows), 3)
        self.assertEqual([m["dagNodeId"] for m in rows.by_operator("Project")], ["3"])
        self.assertEqual(rows.summary, {"nodes": 3})
        self.assertEqual(repr(Mappings()).splitlines()[0], "Mappings(0 nodes)")


class RetryTest(unittest.TestCase):
    """A loopback server that answers 503 with Retry-After first, then the job."""

    def setUp(self) -> None:
        self.calls = 0
        test = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                test.calls += 1
                if test.calls == 1:
                    body, code, extra = {"error": {"code": "store_unavailable", "message": "retry shortly"}}, 503, {"Retry-After": "0"}
                else:
                    body, code, extra = {"jobId": "j", "status": "completed"}, 200, {}
                data = json.dumps(body).encode()
                self.send_response(code)
                for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **extra}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def tearDown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def test_503_is_retried(self) -> None:
        self.assertEqual(Client(self.url).wait("j", timeout=5)["status"], "completed")
        self.assertEqual(self.calls, 2)

    def test_retry_wait_follows_retry_after_within_the_cap(self) -> None:
        wait = planmap.client._retry_wait
        self.assertEqual(wait("2", 0), 2.0)
        self.assertEqual(wait("9999", 0), planmap.client.MAX_RETRY_WAIT)
        self.assertEqual(wait(None, 2), 4.0)
        self.assertEqual(wait("soon", 1), 2.0)


if __name__ == "__main__":
    unittest.main()
