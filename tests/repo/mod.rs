//! Repository ingestion: sites per language and notebook format on a realistic
//! multi-module ETL package, data flow within and across files, walking rules, the URL
//! policy, and git acquisition with a token that never reaches the disk.

mod backends;

use planmap::repo::{self, RepoContext, Site};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn fixture_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repos/etl_package")
}

fn index() -> RepoContext {
    repo::build(&fixture_repo(), &[], "test").expect("index the fixture repo")
}

fn site<'a>(ctx: &'a RepoContext, file: &str, line: u32, kind: &str) -> &'a Site {
    ctx.sites.iter().find(|s| s.file == file && s.line_start == line && s.kind == kind).unwrap_or_else(|| {
        let near: Vec<String> = ctx.sites.iter().filter(|s| s.file == file).map(|s| format!("{}:{}", s.line_start, s.kind)).collect();
        panic!("no {kind} site at {file}:{line}; sites there: {near:?}")
    })
}

fn linked(ctx: &RepoContext, from: &Site, to: &Site) -> bool {
    ctx.edges.iter().any(|(a, b)| *a == from.id && *b == to.id)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn python_chains_get_one_site_per_call_with_its_own_lines() {
    let ctx = index();
    let f = "etl/jobs/daily.py";
    let group = site(&ctx, f, 21, "aggregate");
    assert_eq!((group.statement_start, group.statement_end), (19, 27), "the whole `summary = (...)` statement");
    assert_eq!(group.columns, strs(&["region", "segment"]));
    assert_eq!(group.symbol, "run");
    let agg = site(&ctx, f, 22, "aggregate");
    assert_eq!(agg.line_end, 25, "the .agg( call spans its arguments");
    assert_eq!(agg.functions, strs(&["alias", "sum", "countDistinct", "group:by"]), "the agg of a groupBy is marked as grouping");
    assert!(agg.columns.contains(&"revenue".to_string()) && agg.columns.contains(&"net".to_string()));
    let sort = site(&ctx, f, 26, "sort");
    assert_eq!(sort.columns, strs(&["revenue"]));
    let filter = site(&ctx, f, 17, "filter");
    assert_eq!((filter.columns.clone(), filter.literals.clone()), (strs(&["status"]), strs(&["shipped"])));
    assert_eq!(site(&ctx, f, 37, "limit").literals, strs(&["50"]));
}

#[test]
fn reads_resolve_module_constants_and_udfs_are_found() {
    let ctx = index();
    assert_eq!(site(&ctx, "etl/io.py", 8, "read").tables, strs(&["s3://lake/raw/orders"]));
    assert_eq!(site(&ctx, "etl/io.py", 12, "table").tables, strs(&["sales.customers"]));
    let udf = site(&ctx, "etl/jobs/daily.py", 10, "udf");
    assert_eq!(udf.functions, strs(&["with_tax"]));
    let usage = site(&ctx, "etl/jobs/daily.py", 28, "with-column");
    assert!(usage.functions.contains(&"with_tax".to_string()) && usage.functions.contains(&"udf".to_string()), "{:?}", usage.functions);
    let join = site(&ctx, "etl/transform.py", 6, "join");
    assert_eq!((join.columns.clone(), join.literals.clone()), (strs(&["customer_id"]), strs(&["left"])));
    let w = site(&ctx, "etl/transform.py", 12, "window");
    assert_eq!(w.columns, strs(&["customer_id", "amount"]), "the spec's partition and order columns");
    assert_eq!(w.functions, strs(&["row_number", "defines:rank"]), "the function, and the column its withColumn defines");
}

#[test]
fn sql_in_fstrings_maps_clause_lines_back_into_the_file() {
    let ctx = index();
    let f = "etl/jobs/daily.py";
    assert_eq!(site(&ctx, f, 33, "sql-from").tables, strs(&["sales.orders"]));
    let w = site(&ctx, f, 34, "sql-where");
    assert!(w.columns.contains(&"order_date".to_string()) && w.literals.contains(&"100".to_string()), "{w:?}");
    // `run(spark, "2024-01-01")` at the bottom of the module passes the day, so the
    // f-string holds the value Spark sees (an unknown one would stay by name).
    assert!(w.literals.contains(&"2024-01-01".to_string()), "the interpolation is the value the call passes: {w:?}");
    // The GROUP BY is the query's Aggregate: its keys, then what the aggregate items name.
    assert_eq!(site(&ctx, f, 35, "sql-group-by").columns, strs(&["customer_id", "n"]));
    assert_eq!(site(&ctx, f, 32, "sql-select").functions, strs(&["count"]));
}

#[test]
fn data_flows_within_files_and_across_helper_functions() {
    let ctx = index();
    let read = site(&ctx, "etl/io.py", 8, "read");
    let filter = site(&ctx, "etl/jobs/daily.py", 17, "filter");
    let join = site(&ctx, "etl/transform.py", 6, "join");
    let net = site(&ctx, "etl/transform.py", 7, "with-column");
    let group = site(&ctx, "etl/jobs/daily.py", 21, "aggregate");
    let agg = site(&ctx, "etl/jobs/daily.py", 22, "aggregate");
    let save = site(&ctx, "etl/io.py", 16, "write");
    let taxed = site(&ctx, "etl/jobs/daily.py", 28, "with-column");
    assert!(linked(&ctx, read, filter), "load_orders() result flows into the filter");
    assert!(linked(&ctx, filter, join), "the filtered frame is enrich()'s `orders`");
    assert!(linked(&ctx, join, net), "within enrich()");
    assert!(linked(&ctx, net, group), "enrich()'s result flows into the groupBy");
    assert!(linked(&ctx, group, agg), "chained calls");
    assert!(linked(&ctx, taxed, save), "save_report(taxed, ...) writes it");
    assert_eq!(filter.outputs, strs(&["run:shipped"]));
}

#[test]
fn notebooks_number_lines_across_cells_and_read_magic_sql() {
    let ctx = index();
    let nb = "notebooks/explore.ipynb";
    let read = site(&ctx, nb, 1, "read");
    let filter = site(&ctx, nb, 2, "filter");
    assert!(linked(&ctx, read, filter));
    assert_eq!(site(&ctx, nb, 5, "sql-from").tables, strs(&["sales.orders"]), "%%sql cell: lines 3-6, FROM on 5");
    let group = site(&ctx, nb, 7, "aggregate");
    assert!(linked(&ctx, filter, group), "variables flow across cells");
    let dbx = "notebooks/dbx_daily.py";
    assert_eq!(site(&ctx, dbx, 9, "sql-join").tables, strs(&["sales.customers"]), "MAGIC %sql lines keep their file lines");
    assert_eq!(site(&ctx, dbx, 14, "write").tables, strs(&["sales.orders_clean"]));
    assert_eq!(site(&ctx, dbx, 14, "distinct").columns, strs(&["order_id"]));
}

#[test]
fn sql_files_scala_and_java() {
    let ctx = index();
    let sql = "sql/report.sql";
    assert_eq!(site(&ctx, sql, 2, "sql-insert").tables, strs(&["reports.monthly"]));
    assert_eq!(site(&ctx, sql, 7, "sql-from").tables, strs(&["sales.orders"]));
    assert_eq!(site(&ctx, sql, 6, "sql-window").functions, strs(&["rank", "sum"]));
    assert_eq!(site(&ctx, sql, 11, "sql-limit").literals, strs(&["100"]));
    let scala = "jvm/DailyJob.scala";
    let j = site(&ctx, scala, 12, "join");
    assert_eq!((j.columns.clone(), j.literals.clone(), j.symbol.as_str()), (strs(&["customer_id"]), strs(&["inner"]), "DailyJob.main"));
    // The `agg` of a `groupBy` carries its keys: Spark plans the pair as one Aggregate.
    assert_eq!(site(&ctx, scala, 14, "aggregate").columns, strs(&["amount", "revenue", "region"]));
    assert_eq!(site(&ctx, scala, 15, "write").tables, strs(&["reports.by_region"]));
    let java = "jvm/DailyJob.java";
    assert_eq!(site(&ctx, java, 12, "filter").literals, strs(&["100"]));
    assert_eq!(site(&ctx, java, 13, "aggregate").columns, strs(&["region"]));
    assert_eq!(site(&ctx, java, 14, "aggregate").columns, strs(&["amount", "revenue", "region"]));
}

#[test]
fn vendored_build_and_gitignored_files_are_skipped() {
    let ctx = index();
    assert!(!ctx.sites.iter().any(|s| s.file.starts_with("vendor/") || s.file.starts_with("build/") || s.file.ends_with("scratch_ignored.py")));
    assert_eq!(ctx.stats.skipped.get("vendored or build folders"), Some(&2));
    let only = repo::build(&fixture_repo(), &["etl/jobs".to_string()], "t").unwrap();
    assert!(only.sites.iter().all(|s| s.file.starts_with("etl/jobs/")));
    assert!(repo::build(&fixture_repo(), &["../etc".to_string()], "t").unwrap_err().contains("stay inside"));
}

#[test]
fn unparseable_files_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.py"), "df = spark.read.parquet('x')\n").unwrap();
    std::fs::write(dir.path().join("bad.py"), "def broken(:\n    df.filter(\n").unwrap();
    std::fs::write(dir.path().join("nb.ipynb"), "{not json").unwrap();
    std::fs::write(dir.path().join("bin.py"), b"\x00\x01\x02binary").unwrap();
    let ctx = repo::build(dir.path(), &[], "t").unwrap();
    assert!(ctx.sites.iter().any(|s| s.file == "good.py"));
    assert!(ctx.stats.warnings.iter().any(|w| w.starts_with("bad.py: syntax errors")), "{:?}", ctx.stats.warnings);
    assert!(ctx.stats.warnings.iter().any(|w| w.starts_with("nb.ipynb: not a Jupyter notebook")), "{:?}", ctx.stats.warnings);
    assert_eq!(ctx.stats.skipped.get("binary"), Some(&1));
}

/// A `MakeWriter` that keeps everything written, for asserting on logs.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn grep_tree(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).map(|b| String::from_utf8_lossy(&b).contains(needle)).unwrap_or(false) {
                hits.push(p);
            }
        }
    }
    hits
}

#[test]
fn git_urls_are_cloned_at_a_commit_and_the_token_never_reaches_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    std::fs::create_dir_all(&origin).unwrap();
    git(&origin, &["init", "-q"]);
    std::fs::write(origin.join("job.py"), "df = spark.read.parquet('s3://a')\nout = df.groupBy('k').count()\n").unwrap();
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-q", "-m", "one"]);
    let first = git(&origin, &["rev-parse", "HEAD"]);
    std::fs::write(origin.join("job.py"), "df = spark.read.parquet('s3://b')\n").unwrap();
    git(&origin, &["commit", "-q", "-am", "two"]);
    let clones = tmp.path().join("clones");
    let token = "tok-SECRET-4242";
    let spec = repo::RepoSpec { url: format!("file://{}", origin.display()), commit: Some(first.clone()), token: Some(token.into()), ..Default::default() };
    // Capture every log line, at the most verbose level, while the token is in use.
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(logs.clone()).with_ansi(false).finish();
    let co = tracing::subscriber::with_default(subscriber, || {
        tracing::info!(?spec, "acquiring");
        let co = repo::source::acquire(&spec, &repo::RepoPolicy::cli(), &clones).unwrap();
        let bad = repo::RepoSpec { commit: Some("no-such-ref".into()), ..spec.clone() };
        if let Err(e) = repo::source::acquire(&bad, &repo::RepoPolicy::cli(), &clones) {
            tracing::error!("{e}");
        }
        co
    });
    let captured = logs.text();
    assert!(captured.contains("acquiring") && captured.contains("no-such-ref"), "the capture works: {captured}");
    assert!(!captured.contains(token), "the token is in the logs: {captured}");
    assert_eq!(co.commit, first);
    let ctx = repo::build(&co.root, &[], &co.commit).unwrap();
    assert!(ctx.sites.iter().any(|s| s.tables == vec!["s3://a".to_string()]), "indexed the requested commit, not HEAD");
    assert!(grep_tree(&clones, token).is_empty(), "the token is nowhere in the clone folder");
    assert!(!format!("{spec:?}").contains(token));
    // The same commit again is served from the clone folder.
    let again = repo::source::acquire(&spec, &repo::RepoPolicy::cli(), &clones).unwrap();
    assert_eq!(again.root, co.root);
    // A bad ref fails with a message that names the repository and never the token.
    let bad = repo::RepoSpec { commit: Some("no-such-ref".into()), ..spec.clone() };
    let err = repo::source::acquire(&bad, &repo::RepoPolicy::cli(), &clones).unwrap_err().to_string();
    assert!(err.contains("commit no-such-ref is not in it") && !err.contains(token), "{err}");
    // An abbreviated sha is resolved to the full one; an unknown full sha, an unknown
    // branch and a missing repository are told in planmap's words, not git's.
    let short = repo::RepoSpec { commit: Some(first[..8].to_string()), ..spec.clone() };
    assert_eq!(repo::source::acquire(&short, &repo::RepoPolicy::cli(), &clones).unwrap().commit, first);
    let wrong = repo::RepoSpec { commit: Some("0123456789abcdef0123456789abcdef01234567".into()), ..spec.clone() };
    let err = repo::source::acquire(&wrong, &repo::RepoPolicy::cli(), &clones).unwrap_err().to_string();
    assert!(err.contains("commit 0123456789abcdef0123456789abcdef01234567 is not in it") && !err.contains("not our ref"), "{err}");
    let branch = repo::RepoSpec { commit: None, branch: Some("no-such-branch".into()), ..spec.clone() };
    let err = repo::source::acquire(&branch, &repo::RepoPolicy::cli(), &clones).unwrap_err().to_string();
    assert!(err.contains("no branch or tag \"no-such-branch\""), "{err}");
    let missing = repo::RepoSpec { url: format!("file://{}", tmp.path().join("nowhere").display()), commit: Some(first.clone()), ..spec.clone() };
    let err = repo::source::acquire(&missing, &repo::RepoPolicy::cli(), &clones).unwrap_err().to_string();
    assert!(err.contains("no such folder"), "{err}");
    // The service's policy refuses local repositories outright.
    let strict = repo::RepoPolicy { allow_local: false, allowed_hosts: vec![] };
    assert!(repo::source::acquire(&spec, &strict, &clones).unwrap_err().to_string().contains("not allowed"));
}

#[test]
fn clones_past_the_size_limit_are_evicted_least_recently_used_first() {
    let tmp = tempfile::tempdir().unwrap();
    let clones = tmp.path();
    for (i, name) in ["old", "mid", "new"].iter().enumerate() {
        let dir = clones.join("repoA").join(name);
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::write(dir.join("data.bin"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.join(".git").join("planmap-last-used"), b"").unwrap();
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(100 - i as u64 * 10);
        std::fs::File::options().write(true).open(dir.join(".git").join("planmap-last-used")).unwrap().set_modified(t).unwrap();
    }
    let keep = clones.join("repoA").join("old");
    let evicted = repo::source::evict(clones, 1500, &keep);
    assert_eq!(evicted, vec!["repoA-mid".to_string(), "repoA-new".to_string()], "oldest first, never the one in use");
    assert!(keep.exists() && !clones.join("repoA/mid").exists());
}

#[test]
fn the_index_searches_sites_by_semantics() {
    use planmap::capabilities::CodeIndex;
    let ctx = index();
    let idx = ctx.memory_index();
    let hits = idx.search(&strs(&["customer_id"]), &strs(&["join", "sql-join"]), 5, None);
    let found: Vec<_> = hits.iter().filter_map(|h| idx.site(h.site_id)).map(|s| s.location.clone()).collect();
    assert!(found.iter().any(|l| l.file == "etl/transform.py" && l.line_start == 6), "{found:?}");
    let join = site(&ctx, "etl/transform.py", 6, "join");
    let number = |s: &planmap::repo::Site| idx.id_of(&s.id).expect("every site is numbered");
    let up = idx.upstream(number(join), 3);
    assert!(up.contains(&number(site(&ctx, "etl/jobs/daily.py", 17, "filter"))) && up.contains(&number(site(&ctx, "etl/io.py", 8, "read"))), "{up:?}");
    assert_eq!(idx.site(number(join)).map(|s| s.location.line_start), Some(6), "numbers lead back to the site");
    assert!(idx.source(number(join)).is_some_and(|s| s.snippet.contains("join")), "and to its source text");
}

/// `createDataFrame`'s schema (a list, a DDL string or `StructField`s) names the
/// columns the plan's scan outputs; its rows stay literals. JVM files list the types
/// they declare, which a plan's typed lambdas and encoders name.
#[test]
fn created_frames_name_their_columns_and_jvm_files_their_types() {
    let ctx = repo_of(&[
        ("make.py", "from pyspark.sql.types import StructType, StructField, StringType\n\
         a = spark.createDataFrame([('alex', 20)], ['name', 'age'])\n\
         b = spark.createDataFrame(rows, schema='city string, pop int')\n\
         c = spark.createDataFrame(rows, StructType([StructField('zone', StringType(), True)]))\n\
         a.describe(['age']).show()\n\
         a.groupBy('name').count().show()\n\
         a.agg({'age': 'max'}).show()\n"),
        ("Job.java", "package x.y;\nimport org.apache.spark.sql.SparkSession;\npublic class Job { static class Usage {} }\n"),
    ]);
    assert_eq!(site(&ctx, "make.py", 2, "read").columns, strs(&["name", "age"]));
    assert!(site(&ctx, "make.py", 2, "read").literals.contains(&"alex".to_string()));
    assert_eq!(site(&ctx, "make.py", 3, "read").columns, strs(&["city", "pop"]));
    assert_eq!(site(&ctx, "make.py", 4, "read").columns, strs(&["zone"]));
    // `describe()` is one aggregate of its statistics (stacked into rows by a Generate).
    let d = site(&ctx, "make.py", 5, "describe");
    assert!(["count", "avg", "stddev", "min", "max"].iter().all(|f| d.functions.contains(&f.to_string())), "{:?}", d.functions);
    // A grouping aggregate is marked so: it cannot be a global count.
    let grouped = ctx.sites.iter().filter(|s| s.file == "make.py" && s.line_start == 6 && s.kind == "aggregate").collect::<Vec<_>>();
    assert!(!grouped.is_empty() && grouped.iter().all(|s| s.functions.contains(&"group:by".to_string())), "{grouped:?}");
    assert!(!site(&ctx, "make.py", 7, "aggregate").functions.contains(&"group:by".to_string()));
    let job = ctx.files.iter().find(|f| f.path == "Job.java").unwrap();
    assert_eq!(job.classes, strs(&["Job", "Usage"]));
}

#[test]
fn stream_reads_and_writes_are_marked_as_streams() {
    let ctx = repo_of(&[
        ("load.py", "def batch(df, p):\n    df.write.save(path=p, format='parquet')\n\
         def stream(df, p):\n    return df.writeStream.start(path=p, format='parquet')\n\
         def read(spark, p):\n    return spark.readStream.load(path=p, format='json')\n"),
    ]);
    let marked = |line: u32, kind: &str| site(&ctx, "load.py", line, kind).functions.contains(&planmap_plugin_sdk::STREAMING.to_string());
    assert!(!marked(2, "write"), "a batch write");
    assert!(marked(4, "write"), "writeStream…start()");
    assert!(marked(6, "read"), "readStream…load()");
    // A stream's write never produced a batch file write, nor a batch write a stream's.
    let stream = [planmap_plugin_sdk::STREAMING];
    assert!(!planmap_plugin_sdk::write_mode_fits("Execute InsertIntoHadoopFsRelationCommand", &stream));
    assert!(planmap_plugin_sdk::write_mode_fits("Execute InsertIntoHadoopFsRelationCommand", &[]));
    assert!(planmap_plugin_sdk::write_mode_fits("WriteToDataSourceV2 MicroBatchWrite", &stream));
}

#[test]
fn a_window_names_its_spec_the_column_it_defines_and_the_frame_it_runs_over() {
    let ctx = repo_of(&[
        ("model.py", "class Cols:\n    person = 'nconst'\n    title = 'tconst'\n    rank = 'rank_in_person'\n"),
        ("job.py", "from pyspark.sql import Window\nfrom pyspark.sql import functions as F\nfrom model import Cols\n\
         def top(df):\n    w = (\n        Window\n            .partitionBy(Cols.person)\n            .orderBy(F.col(Cols.title).cast('long'))\n    )\n\
         \x20   counted = df.groupBy(Cols.person, Cols.title).count()\n\
         \x20   return counted.withColumn(Cols.rank, F.row_number().over(w))\n"),
    ]);
    let w = site(&ctx, "job.py", 11, "window");
    // The spec's names, through an imported class's attributes; a cast's type is no name.
    assert_eq!(w.columns, strs(&["nconst", "tconst"]));
    assert!(w.functions.contains(&format!("{}rank_in_person", planmap_plugin_sdk::DEFINES)), "{:?}", w.functions);
    // It runs over the DataFrame `withColumn` is called on.
    let agg = ctx.sites.iter().find(|s| s.file == "job.py" && s.line_start == 10 && s.kind == "aggregate" && s.functions.contains(&"count".to_string())).unwrap();
    assert!(ctx.edges.iter().any(|(a, b)| *a == agg.id && *b == w.id), "{:?}", ctx.edges);
}

#[test]
fn a_writer_kept_in_a_variable_carries_its_partitioning_and_format() {
    let ctx = repo_of(&[
        ("io.py", "def write_table(df, path, partition_by=None):\n    writer = df.write.mode('overwrite').format('parquet')\n    if partition_by:\n        writer = writer.partitionBy(partition_by)\n    writer.save(path)\n\
         def write_result(df, path):\n    df.write.mode('overwrite').format('parquet').save(path)\n\
         def write_csv(df, path):\n    df.write.csv(path, partitionBy='year')\n"),
    ]);
    let partitioned = |line: u32| site(&ctx, "io.py", line, "write").functions.contains(&planmap_plugin_sdk::PARTITIONED.to_string());
    assert!(partitioned(5), "the writer variable was partitioned");
    assert!(site(&ctx, "io.py", 5, "write").functions.contains(&"format:parquet".to_string()), "and names its format");
    assert!(!partitioned(7), "a plain save");
    assert!(partitioned(9), "a partitionBy= argument");
}

#[test]
fn a_helper_called_with_imported_names_takes_them_as_its_parameters() {
    let ctx = repo_of(&[
        ("cols.py", "class DP:\n    GAP_TOTAL = 'gap_total'\n    GAP_SU = 'gap_su'\n    TOTAL = 'total'\n"),
        ("steps.py", "from pyspark.sql import functions as F\nfrom cols import DP\n\
         def gaps(df):\n    df = gap(df, DP.GAP_TOTAL, DP.TOTAL)\n    df = gap(df, DP.GAP_SU, 'su')\n    return df\n\
         def gap(df, new_column, other):\n    return df.withColumn(new_column, F.abs(F.col('adass') - F.col(other)))\n"),
    ]);
    let w = site(&ctx, "steps.py", 8, "with-column");
    for c in ["gap_total", "gap_su", "total", "su", "adass"] {
        assert!(w.columns.contains(&c.to_string()), "{c} in {:?}", w.columns);
    }
    // It defines each name its callers pass, and only those.
    let defines: Vec<&str> = w.functions.iter().filter_map(|f| f.strip_prefix(planmap_plugin_sdk::DEFINES)).collect();
    assert_eq!(defines, vec!["gap_total", "gap_su"], "{:?}", w.functions);
}

#[test]
fn a_pivot_is_marked_as_the_source_of_its_distinct_values_query() {
    let ctx = repo_of(&[
        ("wide.py", "def wide(sales):\n    return sales.groupBy('vip').pivot('category').agg({'amount': 'sum'})\n\ndef long(sales):\n    return sales.groupBy('vip').agg({'amount': 'sum'})\n"),
    ]);
    let pivots = |line: u32| ctx.sites.iter().any(|s| s.file == "wide.py" && s.line_start == line && s.kind == "aggregate" && s.functions.contains(&planmap_plugin_sdk::PIVOTS.to_string()));
    assert!(pivots(2));
    assert!(!pivots(5));
    // `pivot(col)` without values sorts and limits the distinct values first.
    let f = [planmap_plugin_sdk::PIVOTS];
    assert!(planmap_plugin_sdk::pivot_produces("sort", &f) && planmap_plugin_sdk::pivot_produces("limit", &f));
    assert!(!planmap_plugin_sdk::pivot_produces("join", &f) && !planmap_plugin_sdk::pivot_produces("sort", &[]));
}

#[test]
fn an_aggregation_carries_the_keys_of_the_grouping_it_is_called_on() {
    let job = "from pyspark.sql import functions as F\ndf = spark.read.parquet('/d')\nout = (df.groupBy('key')\n  .agg(F.sum('v').alias('total')))\nn = (df.groupBy('a', 'b')\n  .count())\nw = df.agg(F.max('v'))\nprint(df.count())\n";
    let ctx = repo_of(&[("job.py", job)]);
    assert_eq!(site(&ctx, "job.py", 3, "aggregate").columns, strs(&["key"]));
    assert_eq!(site(&ctx, "job.py", 4, "aggregate").columns, strs(&["v", "total", "key"]));
    assert_eq!(site(&ctx, "job.py", 6, "aggregate").columns, strs(&["count", "a", "b"]), "groupBy(..).count() is keyed by the groupBy's columns and names its result `count`");
    assert_eq!(site(&ctx, "job.py", 7, "aggregate").columns, strs(&["v"]), "a global agg has no keys to carry");
    assert_eq!(site(&ctx, "job.py", 8, "action").columns, strs(&["count"]), "Dataset.count() is count(1) AS count");
}

#[test]
fn a_typed_dataset_map_is_a_projection_and_an_rdd_map_is_not() {
    let java = "class J {\n  void run(SparkSession spark, Dataset<Usage> ds) {\n    ds.map((MapFunction<Usage, Double>) u -> u.usage * 0.5, Encoders.DOUBLE()).show(5);\n    spark.sparkContext().parallelize(xs).map(x -> x);\n  }\n}\n";
    let ctx = repo_of(&[("J.java", java)]);
    site(&ctx, "J.java", 3, "select");
    assert!(!ctx.sites.iter().any(|s| s.line_start == 4), "an RDD's map makes no plan node");
}

/// A repository of these files, indexed.
fn repo_of(files: &[(&str, &str)]) -> repo::RepoContext {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    repo::build(dir.path(), &[], "t").unwrap()
}
