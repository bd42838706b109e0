"""End-to-end tests of the planmap Python client against a real ``planmap serve``.

They start the binary named by ``PLANMAP_BIN`` on an SQLite store in a temporary
folder, build a real DataFrame with a local SparkSession by calling the code of the
fixture repository (``fixture_repo/jobs/orders.py``, copied into a fresh git
repository), map it with :func:`planmap.map_dataframe`, and check the answer against
the fixture's own source lines. A second server, with API keys and no workers, covers
credentials, time-outs and cancellation.

Run from the repository root:

    PLANMAP_BIN=target/release/planmap python -m unittest discover -s clients/python/tests -v
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
# The package is tested from its source folder, not an installed copy.
sys.path.insert(0, str(HERE.parent))

import planmap  # noqa: E402
import planmap.client  # noqa: E402
from planmap import Client, PlanmapError  # noqa: E402

FIXTURE_REPO = HERE / "fixture_repo"
#: The fixture file, relative to the repository root (as the service names files).
FIXTURE_FILE = "jobs/orders.py"
#: Seconds a server may take to print its address, and a job to finish.
SERVER_START_TIMEOUT = 120.0
JOB_TIMEOUT = 120.0
#: Seconds a server gets to exit after SIGTERM before it is killed.
SERVER_STOP_TIMEOUT = 15.0
#: Rows of the generated order extract (enough for a real scan, small for 2 cores).
ORDER_ROWS = 200
CUSTOMERS = 12
#: API keys of the keyed server (the service wants at least 16 characters).
GOOD_KEY = "acme-key-0123456789abcdef"
WRONG_KEY = "wrong-key-fedcba9876543210"
#: Operator names Spark uses for the fixture's join and aggregate, whichever it picks.
JOIN_OPERATORS = ("BroadcastHashJoin", "SortMergeJoin", "ShuffledHashJoin", "BroadcastNestedLoopJoin", "CartesianProduct")
AGGREGATE_OPERATORS = ("HashAggregate", "ObjectHashAggregate", "SortAggregate")
#: A node header in the details section of EXPLAIN FORMATTED: "(7) BroadcastHashJoin".
NODE_HEADER = re.compile(r"^\((\d+)\) (.+?)\s*(?:\[codegen id : \d+\])?\s*$")


class Server:
    """A ``planmap serve`` process on a loopback port, with its own folders and store."""

    def __init__(self, binary: str, env: Dict[str, str]) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="planmap-serve-")
        root = Path(self.dir.name)
        for d in ("plugins", "graphs", "clones", "compile-cache"):
            (root / d).mkdir()
        self.log = root / "serve.log"
        # A clean environment: only what the service needs, so nothing of the caller's
        # (a DATABASE_URL, API keys) leaks in.
        full = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(root)),
            "BIND_ADDR": "127.0.0.1:0",
            "LOG_FORMAT": "json",
            "REPO_ALLOW_LOCAL": "true",
            "PLANMAP_PLUGIN_DIR": str(root / "plugins"),
            "PLANMAP_GRAPH_DIR": str(root / "graphs"),
            "REPO_CLONE_DIR": str(root / "clones"),
            "PLANMAP_COMPILE_CACHE": str(root / "compile-cache"),
            "DATABASE_URL": f"sqlite:{root / 'jobs.db'}",
            **env,
        }
        with self.log.open("wb") as log:  # the child keeps its own handle
            self.proc = subprocess.Popen([binary, "serve"], env=full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True)
        first: List[str] = []
        got = threading.Event()

        def read() -> None:
            # The first line is the address; the rest is read and dropped so the pipe
            # never fills and blocks the server.
            for line in self.proc.stdout:
                if not got.is_set():
                    first.append(line)
                    got.set()
            got.set()

        threading.Thread(target=read, daemon=True).start()
        if not got.wait(SERVER_START_TIMEOUT) or not first:
            self.stop()
            raise RuntimeError(f"planmap serve did not start within {SERVER_START_TIMEOUT:g} s; its log:\n{self.log_text()[-4000:]}")
        match = re.search(r"listening on (http://\S+)", first[0])
        if not match:
            self.stop()
            raise RuntimeError(f"unexpected first line from planmap serve: {first[0]!r}")
        self.url = match.group(1)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.dir.cleanup()


def fixture_lines(pattern: str) -> List[int]:
    """The 1-based lines of the fixture file that contain ``pattern``."""
    text = (FIXTURE_REPO / FIXTURE_FILE).read_text().splitlines()
    lines = [i for i, line in enumerate(text, start=1) if pattern in line]
    assert lines, f"{pattern!r} is not in {FIXTURE_FILE}"
    return lines


def plan_nodes(plan: str) -> Dict[str, str]:
    """Node id -> operator, from the details section of an EXPLAIN FORMATTED text."""
    return {m.group(1): m.group(2) for m in map(NODE_HEADER.match, plan.splitlines()) if m}


def plan_details(plan: str, node: str) -> str:
    """The details block of one node in an EXPLAIN FORMATTED text."""
    blocks = re.split(r"\n(?=\(\d+\) )", plan)
    return next((b for b in blocks if b.startswith(f"({node}) ")), "")


def contains(mapping: dict, lines: List[int]) -> bool:
    """Whether the mapping's line range holds any of ``lines``."""
    code = mapping.get("mappedCode") or {}
    return any(code.get("lineStart", 0) <= n <= code.get("lineEnd", -1) for n in lines)


def make_git_repo(dest: Path) -> None:
    """A copy of the fixture repository at ``dest``, committed as a git repository."""
    shutil.copytree(FIXTURE_REPO, dest, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=planmap tests", "-c", "user.email=tests@planmap.invalid", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fixture"]):
        subprocess.run(git + args, cwd=dest, check=True, stdout=subprocess.DEVNULL)


def write_extracts(folder: Path) -> "tuple[str, str]":
    """The order and customer CSV extracts the fixture reads (deterministic)."""
    orders, customers = folder / "orders.csv", folder / "customers.csv"
    with orders.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "amount", "state"])
        for i in range(ORDER_ROWS):
            w.writerow([i, i % CUSTOMERS, round(1.5 * (i % 17) + 0.25, 2), "paid" if i % 3 else "open"])
    with customers.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "region"])
        for c in range(CUSTOMERS):
            # One customer without a region: the fixture's null filter has work to do.
            w.writerow([c, "" if c == 0 else ["north", "south", "east"][c % 3]])
    return str(orders), str(customers)


def load_fixture_module(repo: Path):
    """The fixture's ``jobs.orders`` module, imported from the git copy ``repo``."""
    spec = importlib.util.spec_from_file_location("planmap_fixture_orders", repo / FIXTURE_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def local_spark():
    """A small local SparkSession: one core, little memory, no UI, loopback only."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName("planmap-client-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )


# Shared by every test of the module: one open server, one keyed server, one Spark.
OPEN: Optional[Server] = None
KEYED: Optional[Server] = None
SPARK = None
WORK: Optional[tempfile.TemporaryDirectory] = None
REPO: Optional[Path] = None
DF = None
PLAN = ""
EXTRACTS: "tuple[str, str]" = ("", "")
#: Seconds the Spark Connect child may take (it starts its own JVM and Connect server).
CONNECT_TIMEOUT = 300.0
#: The Spark Connect child: builds the fixture's DataFrame on a local Connect server
#: and maps it with map_dataframe; argv: package dir, server, repo, orders, customers,
#: output file.
CONNECT_CHILD = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import importlib.util
import planmap
from pyspark.sql import SparkSession
package, server, repo, orders, customers, out = sys.argv[1:7]
spark = SparkSession.builder.remote("local[1]").config("spark.ui.enabled", "false").config("spark.driver.memory", "512m").getOrCreate()
spec = importlib.util.spec_from_file_location("fixture_orders", os.path.join(repo, "jobs", "orders.py"))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
df = module.revenue_by_region(spark, orders, customers)
result = planmap.map_dataframe(df, repo=repo, server=server)
with open(out, "w") as f:
    json.dump({"dataframe": type(df).__module__ + "." + type(df).__name__, "mappings": list(result)}, f)
spark.stop()
"""


def setUpModule() -> None:
    global OPEN, KEYED, SPARK, WORK, REPO, DF, PLAN, EXTRACTS
    binary = os.environ.get("PLANMAP_BIN")
    if not binary:
        raise RuntimeError("set PLANMAP_BIN to the planmap binary to test against, e.g. PLANMAP_BIN=target/release/planmap")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise RuntimeError(f"PLANMAP_BIN={binary} is not an executable file")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise RuntimeError(f"these tests need pyspark in the Python running them ({sys.executable})") from None
    WORK = tempfile.TemporaryDirectory(prefix="planmap-client-")
    REPO = Path(WORK.name) / "repo"
    make_git_repo(REPO)
    data = Path(WORK.name) / "data"
    data.mkdir()
    orders, customers = EXTRACTS = write_extracts(data)
    OPEN = Server(binary, {"AUTH_DISABLED": "true"})
    # API only (no workers): its jobs stay queued, for the time-out and cancel tests.
    KEYED = Server(binary, {"API_KEYS": f"acme:{GOOD_KEY}", "WORKERS": "0"})
    SPARK = local_spark()
    DF = load_fixture_module(REPO).revenue_by_region(SPARK, orders, customers)
    PLAN = planmap.formatted_plan(DF)


def tearDownModule() -> None:
    if SPARK is not None:
        SPARK.stop()
    for s in (OPEN, KEYED):
        if s is not None:
            s.stop()
    if WORK is not None:
        WORK.cleanup()


class MapDataFrameTest(unittest.TestCase):
    """A real DataFrame mapped to the real lines of the fixture that built it."""

    result: planmap.Mappings

    @classmethod
    def setUpClass(cls) -> None:
        cls.started = time.monotonic()
        cls.result = planmap.map_dataframe(DF, repo=str(REPO), server=OPEN.url, timeout=JOB_TIMEOUT)
        cls.seconds = time.monotonic() - cls.started

    def test_the_plan_is_read_without_running_or_printing(self) -> None:
        self.assertIn("== Physical Plan ==", PLAN)
        self.assertTrue(any(op in PLAN for op in JOIN_OPERATORS), PLAN)
        self.assertIn("HashAggregate", PLAN)

    def test_every_plan_node_has_a_mapping(self) -> None:
        nodes = plan_nodes(PLAN)
        self.assertGreaterEqual(len(nodes), 8, PLAN)
        self.assertEqual({m["dagNodeId"]: m["operator"] for m in self.result}, nodes)
        self.assertEqual(self.result.summary["nodes"], len(nodes))
        statuses = {"confirmed", "probable", "uncertain", "unmapped", "infrastructure"}
        for m in self.result:
            self.assertIn(m["status"], statuses, m)
            self.assertTrue(0.0 <= m["confidence"] <= 1.0, m)
            # The repository has one file: every node code owns (or that code induced)
            # points into it.
            if m["ownership"] != "infrastructure":
                self.assertEqual((m["mappedCode"] or {}).get("file"), FIXTURE_FILE, m)

    def test_the_join_maps_to_the_join_call(self) -> None:
        joins = [m for m in self.result if m["operator"] in JOIN_OPERATORS]
        self.assertEqual(len(joins), 1, repr(self.result))
        join = joins[0]
        self.assertEqual(join["mappedCode"]["file"], FIXTURE_FILE)
        self.assertEqual(join["mappedCode"]["symbol"], "revenue_by_region")
        self.assertTrue(contains(join, fixture_lines(".join(")), join)
        self.assertIn(join["status"], ("confirmed", "probable"), join)

    def test_the_aggregates_map_to_the_group_by(self) -> None:
        aggregates = [m for m in self.result if m["operator"] in AGGREGATE_OPERATORS]
        # Partial and final: Spark aggregates in two steps around the shuffle.
        self.assertGreaterEqual(len(aggregates), 2, repr(self.result))
        lines = fixture_lines(".groupBy(") + fixture_lines(".agg(")
        for agg in aggregates:
            self.assertEqual(agg["mappedCode"]["file"], FIXTURE_FILE, agg)
            self.assertTrue(contains(agg, lines), agg)

    def test_the_scans_map_to_their_readers(self) -> None:
        scans = {m["dagNodeId"]: m for m in self.result if m["operator"].startswith("Scan")}
        self.assertEqual(len(scans), 2, repr(self.result))
        reads = fixture_lines("spark.read.csv(")
        for node, m in scans.items():
            self.assertTrue(contains(m, reads), m)
        # Each scan to its own reader: orders to load_orders, customers to load_customers.
        by_file = {("orders.csv" in plan_details(PLAN, n)): m["mappedCode"]["symbol"] for n, m in scans.items()}
        self.assertEqual(by_file, {True: "load_orders", False: "load_customers"})

    def test_the_region_null_filter_maps_to_its_where_call(self) -> None:
        # `isnotnull(region) AND isnotnull(customer_id)` above the customers scan: the
        # first check is the fixture's own `.where(F.col("region").isNotNull())`, so
        # the node is the user's, not one the join induced.
        node = next(n for n, op in plan_nodes(PLAN).items() if op == "Filter" and "isnotnull(region" in plan_details(PLAN, n))
        m = next(m for m in self.result if m["dagNodeId"] == node)
        self.assertTrue(contains(m, fixture_lines("customers.where(")), m)

    def test_repr_and_html_show_the_table(self) -> None:
        text = repr(self.result)
        for op in {m["operator"] for m in self.result}:
            self.assertIn(op, text)
        self.assertIn(f"{FIXTURE_FILE}:", text)
        self.assertIn("revenue_by_region", text)
        self.assertIn(self.result.job_id, text)
        page = self.result._repr_html_()
        self.assertIn("<table>", page)
        for op in {m["operator"] for m in self.result}:
            self.assertIn(f"<td>{op}</td>", page)

    def test_the_result_is_a_list_of_plain_dicts_with_the_job_summary(self) -> None:
        self.assertIsInstance(self.result, list)
        self.assertTrue(all(type(m) is dict for m in self.result))
        self.assertEqual(self.result.repo["url"], str(REPO))
        self.assertRegex(self.result.repo["commit"], r"^[0-9a-f]{40}$")
        counted = sum(self.result.summary.get(s, 0) for s in ("confirmed", "probable", "uncertain", "unmapped", "infrastructure"))
        self.assertEqual(counted, len(self.result), self.result.summary)
        sys.stderr.write(f"\n  map_dataframe took {self.seconds:.2f} s for {len(self.result)} nodes ... ")


def connect_missing() -> Optional[str]:
    """Why Spark Connect cannot be tested here (its Python packages are missing), or None."""
    try:
        from pyspark.testing.connectutils import connect_requirement_message, should_test_connect
    except ImportError as e:
        return str(e)
    return None if should_test_connect else connect_requirement_message


class SparkConnectTest(unittest.TestCase):
    """A Spark Connect DataFrame, in a child process: Connect's local mode starts its
    own SparkContext, which cannot share this process with the classic one."""

    def test_a_spark_connect_dataframe_maps_like_a_classic_one(self) -> None:
        missing = connect_missing()
        if missing:
            self.skipTest(f"Spark Connect needs pip install 'pyspark[connect]': {missing}")
        out = Path(WORK.name) / "connect.json"
        env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1")
        run = subprocess.run([sys.executable, "-c", CONNECT_CHILD, str(HERE.parent), OPEN.url, str(REPO), *EXTRACTS, str(out)],
                             env=env, capture_output=True, text=True, timeout=CONNECT_TIMEOUT)
        self.assertEqual(run.returncode, 0, run.stderr[-4000:])
        got = json.loads(out.read_text())
        self.assertEqual(got["dataframe"], "pyspark.sql.connect.dataframe.DataFrame")
        joins = [m for m in got["mappings"] if m["operator"] in JOIN_OPERATORS]
        self.assertEqual(len(joins), 1, got["mappings"])
        self.assertTrue(contains(joins[0], fixture_lines(".join(")), joins[0])


class ClientTest(unittest.TestCase):
    """The lower-level calls on the open server."""

    def setUp(self) -> None:
        self.client = Client(OPEN.url)

    def test_pages_are_followed_to_the_end(self) -> None:
        job = self.client.submit(PLAN, str(REPO), plan_format="formatted")
        self.client.wait(job, timeout=JOB_TIMEOUT)
        whole = self.client.mappings(job)
        saved = planmap.client.PAGE_SIZE
        planmap.client.PAGE_SIZE = 3  # several pages, the last one short
        try:
            paged = self.client.mappings(job)
        finally:
            planmap.client.PAGE_SIZE = saved
        self.assertGreater(len(whole), 3)
        self.assertEqual([m["dagNodeId"] for m in paged], [m["dagNodeId"] for m in whole])
        confirmed = self.client.mappings(job, status=["confirmed"])
        self.assertTrue(confirmed and all(m["status"] == "confirmed" for m in confirmed))
        self.assertEqual(len(confirmed), self.client.status(job)["summary"]["confirmed"])

    def test_the_same_idempotency_key_gives_the_same_job(self) -> None:
        first = self.client.submit(PLAN, str(REPO), plan_format="formatted", idempotency_key="nightly-1")
        again = self.client.submit(PLAN, str(REPO), plan_format="formatted", idempotency_key="nightly-1")
        self.assertEqual(first, again)
        with self.assertRaises(PlanmapError) as cm:
            self.client.submit(PLAN, str(REPO), plan_format="formatted", analysis_id="other", idempotency_key="nightly-1")
        self.assertEqual((cm.exception.status, cm.exception.code), (409, "idempotency_conflict"))

    def test_an_invalid_repo_url_is_refused_naming_the_field(self) -> None:
        # Plain http is refused at validation: nothing is fetched.
        with self.assertRaises(PlanmapError) as cm:
            planmap.map_dataframe(DF, repo="http://example.invalid/acme/etl.git", server=OPEN.url)
        e = cm.exception
        self.assertEqual((e.status, e.code), (422, "validation_failed"))
        self.assertEqual([f["path"] for f in e.fields], ["repoUrl"])
        self.assertIn("repoUrl", str(e))
        self.assertIn("https", str(e))

    def test_several_invalid_fields_are_all_named(self) -> None:
        with self.assertRaises(PlanmapError) as cm:
            self.client.submit(PLAN, "https://user:hunter2secret@example.invalid/etl.git", commit="not-a-sha", target_paths=["../up"])
        e = cm.exception
        self.assertEqual(sorted(f["path"] for f in e.fields), ["commit", "repoUrl", "targetPaths[0]"])
        for path in ("commit", "repoUrl", "targetPaths[0]"):
            self.assertIn(path, str(e))
        self.assertNotIn("hunter2secret", str(e))

    def test_a_missing_repository_folder_is_refused_naming_repo_url(self) -> None:
        # The folder is checked at submission: a typo fails the request, not a job.
        missing = str(Path(WORK.name) / "no-such-repo")
        with self.assertRaises(PlanmapError) as cm:
            planmap.map_dataframe(DF, repo=missing, server=OPEN.url, timeout=JOB_TIMEOUT)
        self.assertEqual(cm.exception.status, 422)
        self.assertIn("repoUrl", str(cm.exception))
        self.assertIn(missing, str(cm.exception))

    def test_an_unknown_job_is_a_404(self) -> None:
        with self.assertRaises(PlanmapError) as cm:
            self.client.status("no-such-job")
        self.assertEqual((cm.exception.status, cm.exception.code), (404, "not_found"))
        self.assertIn("no-such-job", str(cm.exception))

    def test_an_unreachable_server_is_named(self) -> None:
        # A port nobody listens on: bind one, note it, close it.
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with self.assertRaises(PlanmapError) as cm:
            Client(f"http://127.0.0.1:{port}", timeout=5).status("x")
        self.assertEqual(cm.exception.code, "unreachable")
        self.assertIn(f"127.0.0.1:{port}", str(cm.exception))

    def test_something_that_is_not_a_dataframe_is_refused(self) -> None:
        with self.assertRaises(PlanmapError) as cm:
            planmap.map_dataframe(object(), repo=str(REPO), server=OPEN.url)
        self.assertEqual(cm.exception.code, "no_plan")


class CredentialsTest(unittest.TestCase):
    """The keyed server: keys, time-outs and cancellation (it runs no jobs)."""

    def test_a_wrong_api_key_is_a_401_that_never_shows_the_key(self) -> None:
        client = Client(KEYED.url, api_key=WRONG_KEY)
        self.assertNotIn(WRONG_KEY, repr(client))
        with self.assertRaises(PlanmapError) as cm:
            client.submit(PLAN, str(REPO), plan_format="formatted")
        e = cm.exception
        self.assertEqual((e.status, e.code), (401, "unauthorized"))
        for text in (str(e), repr(e), e.message, repr(e.args)):
            self.assertNotIn(WRONG_KEY, text)
        # The same for a bearer token.
        with self.assertRaises(PlanmapError) as cm:
            Client(KEYED.url, token=WRONG_KEY).status("x")
        self.assertEqual(cm.exception.status, 401)
        self.assertNotIn(WRONG_KEY, str(cm.exception))

    def test_no_credential_is_a_401_saying_what_to_send(self) -> None:
        with self.assertRaises(PlanmapError) as cm:
            Client(KEYED.url).status("x")
        self.assertEqual(cm.exception.status, 401)
        self.assertIn("X-API-Key", str(cm.exception))

    def test_the_right_key_works_and_a_queued_job_times_out_by_name(self) -> None:
        client = Client(KEYED.url, api_key=GOOD_KEY)
        job = client.submit(PLAN, str(REPO), plan_format="formatted")
        self.assertEqual(client.status(job)["status"], "queued")
        started = time.monotonic()
        with self.assertRaises(PlanmapError) as cm:
            client.wait(job, timeout=1.0, poll=0.2)
        self.assertLess(time.monotonic() - started, 10.0)
        self.assertEqual((cm.exception.code, cm.exception.job_id), ("timeout", job))
        self.assertIn(job, str(cm.exception))
        self.assertNotIn(GOOD_KEY, str(cm.exception))

    def test_a_cancelled_job_is_reported_by_name(self) -> None:
        client = Client(KEYED.url, api_key=GOOD_KEY)
        job = client.submit(PLAN, str(REPO), plan_format="formatted", repo_token="ghp_RepoTokenNeverShown0123456789")
        self.assertEqual(client.cancel(job)["status"], "cancelled")
        with self.assertRaises(PlanmapError) as cm:
            client.wait(job, timeout=JOB_TIMEOUT)
        self.assertEqual((cm.exception.code, cm.exception.job_id), ("job_cancelled", job))
        self.assertIn(job, str(cm.exception))
        with self.assertRaises(PlanmapError) as again:
            client.cancel(job)
        self.assertEqual((again.exception.status, again.exception.code), (409, "job_ended"))


if __name__ == "__main__":
    unittest.main()
