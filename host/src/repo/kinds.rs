//! Which DataFrame method names are Spark operations, and of which site kind; shared
//! by the Python and JVM extractors (the Dataset API uses the same names).

pub use planmap_plugin_sdk::{GROUPED, PIVOTS, STREAMING};

/// The marks a site of `kind` made by `method` on `chain` carries among its functions,
/// for what its call says beyond its kind: an aggregate that groups (`GROUPED`) or
/// pivots (`PIVOTS`), a read or write that streams (`STREAMING`).
pub fn marks(kind: &str, method: &str, chain: &[String]) -> Vec<&'static str> {
    let in_chain = |m: &str| method == m || chain.iter().any(|c| c == m);
    let mut out = Vec::new();
    if kind == "aggregate" && groups(method, chain) {
        out.push(GROUPED);
    }
    if kind == "aggregate" && in_chain("pivot") {
        out.push(PIVOTS);
    }
    if matches!(kind, "read" | "write" | "table") && chain.iter().any(|c| c == "readStream" || c == "writeStream") {
        out.push(STREAMING);
    }
    out
}

/// Whether an aggregate site made by `method` on `chain` groups (it is then marked
/// `GROUPED`: it cannot be a global aggregate).
pub fn groups(method: &str, chain: &[String]) -> bool {
    const GROUPING: &[&str] = &["groupBy", "groupby", "rollup", "cube", "pivot", "groupByKey"];
    GROUPING.contains(&method) || chain.iter().any(|c| GROUPING.contains(&c.as_str()))
}

/// Whether a `kind` site made by `method` on the result of a `receiver` call computes
/// the aggregates of the grouping that call made (`groupBy("k").agg(sum("v"))`,
/// `groupBy("k").count()`): Spark plans one Aggregate for the pair, keyed by the
/// groupBy's columns, so the aggregating call carries them too.
pub fn aggregates_grouped(kind: &str, method: &str, receiver: &str) -> bool {
    kind == "aggregate" && !groups(method, &[]) && groups(receiver, &[])
}

/// The column a call's result has under a name Spark gives it: `count()` on a
/// DataFrame or a grouping is `count(1) AS count`, where SQL's unaliased `count(*)` is
/// named `count(1)`.
pub fn output_column(kind: &str, method: &str) -> Option<&'static str> {
    (matches!(kind, "action" | "aggregate") && method == "count").then_some("count")
}

/// What a method name means when called on a DataFrame-like receiver.
pub fn kind_of(method: &str, chain: &[String]) -> Option<&'static str> {
    let in_chain = |m: &str| chain.iter().any(|c| c == m);
    let root = chain.first().map(String::as_str).unwrap_or("");
    // `F.count("x")`, `functions.max(...)`: column functions, not DataFrame operations.
    if matches!(root, "F" | "functions" | "sf" | "fn") && !matches!(method, "over" | "explode" | "posexplode") {
        return None;
    }
    // A writer kept in a variable (`w = df.write.mode(...)`; `w.parquet(path)`).
    let writer = in_chain("write") || in_chain("writeStream") || (!in_chain("read") && (in_chain("mode") || in_chain("partitionBy") || in_chain("bucketBy") || root.to_ascii_lowercase().contains("writer")));
    Some(match method {
        "parquet" | "csv" | "json" | "orc" | "text" | "load" | "jdbc" | "avro" | "delta" | "textFile" if writer => "write",
        "parquet" | "csv" | "json" | "orc" | "text" | "load" | "jdbc" | "avro" | "delta" if in_chain("read") || in_chain("readStream") => "read",
        "table" if in_chain("read") || in_chain("readStream") => "table",
        "table" | "range" | "createDataFrame" | "createDataset" if chain.first().is_some_and(|r| r.contains("spark") || r == "session" || r.ends_with("Session") || r == "sqlContext") => if method == "table" { "table" } else { "read" },
        // `Seq(...).toDF("a", "b")`, `sc.parallelize(rows).toDF()`, `rdd.toDS()`: a DataFrame
        // made from local data or an RDD is a scan (LocalTableScan, Scan ExistingRDD).
        "toDF" | "toDS" if (matches!(root, "Seq" | "List" | "Array" | "Vector" | "Set") || in_chain("parallelize") || in_chain("rdd")) && !in_chain("createDataFrame") => "read",
        "save" | "saveAsTable" | "insertInto" | "start" | "toTable" if writer || in_chain("writeTo") => "write",
        "append" | "overwrite" | "create" | "createOrReplace" if in_chain("writeTo") => "write",
        "filter" | "where" => "filter",
        "select" | "selectExpr" | "drop" | "withColumnRenamed" | "toDF" | "withColumnsRenamed" => "select",
        "withColumn" | "withColumns" => "with-column",
        "join" | "crossJoin" => "join",
        "groupBy" | "groupby" | "rollup" | "cube" | "agg" | "pivot" => "aggregate",
        "count" | "sum" | "avg" | "mean" | "max" | "min" if in_chain("groupBy") || in_chain("groupby") || in_chain("rollup") || in_chain("cube") || in_chain("pivot") => "aggregate",
        "orderBy" | "sort" | "sortWithinPartitions" => "sort",
        "limit" | "offset" => "limit",
        "union" | "unionByName" | "unionAll" => "union",
        "distinct" | "dropDuplicates" | "drop_duplicates" | "dropDuplicatesWithinWatermark" => "distinct",
        // Statistics of every column in one aggregate, stacked into rows by a Generate.
        "describe" | "summary" if !matches!(root, "pd" | "pdf" | "pandas") => "describe",
        "repartition" | "coalesce" | "repartitionByRange" => "repartition",
        "cache" | "persist" => "cache",
        "applyInPandas" | "mapInPandas" | "mapInArrow" | "apply" if !in_chain("rdd") => "udf",
        "over" => "window",
        "collect" | "show" | "toPandas" | "take" | "first" | "head" | "count" | "foreach" | "foreachPartition" | "tail" | "toLocalIterator" => "action",
        "explode" | "posexplode" => "select",
        _ => return None,
    })
}

