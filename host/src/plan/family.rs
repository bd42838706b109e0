//! Operator names → Spark operator and family. Vendor engines (Photon, Gluten/Velox,
//! Comet, Auron) are first mapped to the Spark operator they replace, through one
//! table each, then the Spark operator to its family through another. No scattered ifs.

use super::model::Family;

/// Spark operator → family.
const SPARK: &[(&str, Family)] = &[
    ("Scan", Family::Scan), ("FileScan", Family::Scan), ("BatchScan", Family::Scan), ("RowDataSourceScan", Family::Scan),
    ("InMemoryTableScan", Family::Scan), ("InMemoryRelation", Family::Scan), ("LocalTableScan", Family::Scan),
    ("Range", Family::Scan), ("HiveTableScan", Family::Scan), ("MicroBatchScan", Family::Scan), ("ContinuousScan", Family::Scan),
    ("ExternalRDDScan", Family::Scan), ("ExistingRDD", Family::Scan), ("OneRowRelation", Family::Scan), ("LocalRelation", Family::Scan),
    ("Filter", Family::Filter),
    ("Project", Family::Project), ("ProjectExec", Family::Project), ("SerializeFromObject", Family::Project),
    ("DeserializeToObject", Family::Project), ("MapElements", Family::Project), ("MapPartitions", Family::Project),
    ("AppendColumns", Family::Project), ("CollectMetrics", Family::Project),
    ("SortMergeJoin", Family::Join), ("BroadcastHashJoin", Family::Join), ("ShuffledHashJoin", Family::Join),
    ("BroadcastNestedLoopJoin", Family::Join), ("CartesianProduct", Family::Join),
    ("HashAggregate", Family::Aggregate), ("SortAggregate", Family::Aggregate), ("ObjectHashAggregate", Family::Aggregate),
    ("AggregateInPandas", Family::PythonUdf), ("FlatMapGroupsInPandas", Family::PythonUdf), ("FlatMapCoGroupsInPandas", Family::PythonUdf),
    ("Exchange", Family::Exchange), ("ShuffleExchange", Family::Exchange), ("BroadcastExchange", Family::Exchange),
    ("ReusedExchange", Family::Exchange),
    ("Sort", Family::Sort),
    ("Window", Family::Window), ("WindowGroupLimit", Family::Window), ("RunningWindowFunction", Family::Window),
    ("WindowInPandas", Family::PythonUdf),
    ("CollectLimit", Family::Limit), ("GlobalLimit", Family::Limit), ("LocalLimit", Family::Limit),
    ("TakeOrderedAndProject", Family::Limit), ("CollectTail", Family::Limit), ("Offset", Family::Limit),
    ("Union", Family::Union),
    ("Expand", Family::Expand),
    ("Generate", Family::Generate),
    ("BatchEvalPython", Family::PythonUdf), ("ArrowEvalPython", Family::PythonUdf), ("MapInPandas", Family::PythonUdf),
    ("MapInArrow", Family::PythonUdf), ("PythonMapInArrow", Family::PythonUdf), ("BatchEvalPythonUDTF", Family::PythonUdf),
    ("ArrowEvalPythonUDTF", Family::PythonUdf),
    ("Execute", Family::Write), ("WriteFiles", Family::Write), ("InsertIntoHadoopFsRelationCommand", Family::Write),
    ("AppendData", Family::Write), ("OverwriteByExpression", Family::Write), ("OverwritePartitionsDynamic", Family::Write),
    ("CreateDataSourceTableAsSelectCommand", Family::Write), ("AtomicReplaceTableAsSelect", Family::Write),
    ("AtomicCreateTableAsSelect", Family::Write), ("ReplaceTableAsSelect", Family::Write), ("CreateTableAsSelect", Family::Write),
    ("InsertIntoHiveTable", Family::Write), ("SaveIntoDataSourceCommand", Family::Write), ("WriteToDataSourceV2", Family::Write),
    ("WriteToDataSourceV2Exec", Family::Write), ("WriteToMicroBatchDataSource", Family::Write), ("DataWritingCommandExec", Family::Write),
    ("Subquery", Family::Subquery), ("SubqueryBroadcast", Family::Subquery), ("ReusedSubquery", Family::Subquery),
    ("SubqueryAdaptiveBroadcast", Family::Subquery), ("ScalarSubquery", Family::Subquery),
    ("WholeStageCodegen", Family::Infrastructure), ("InputAdapter", Family::Infrastructure), ("ColumnarToRow", Family::Infrastructure),
    ("RowToColumnar", Family::Infrastructure), ("AdaptiveSparkPlan", Family::Infrastructure), ("ShuffleQueryStage", Family::Infrastructure),
    ("BroadcastQueryStage", Family::Infrastructure), ("ResultQueryStage", Family::Infrastructure), ("TableCacheQueryStage", Family::Infrastructure),
    ("AQEShuffleRead", Family::Infrastructure), ("CustomShuffleReader", Family::Infrastructure), ("CoalescedShuffleReader", Family::Infrastructure),
    ("LocalShuffleReader", Family::Infrastructure), ("StateStoreRestore", Family::Aggregate), ("StateStoreSave", Family::Aggregate),
    ("EventTimeWatermark", Family::Filter), ("Coalesce", Family::Exchange), ("Deduplicate", Family::Aggregate), ("Sample", Family::Filter),
];

/// Photon operator → Spark operator (DBR 13.3 table, plus later names).
const PHOTON: &[(&str, &str)] = &[
    ("PhotonAdapter", "ColumnarToRow"), ("PhotonScan", "Scan"), ("PhotonSubqueryBroadcast", "SubqueryBroadcast"),
    ("PhotonResultStage", "WholeStageCodegen"), ("PhotonUnionShuffleExchangeSink", "Union"), ("PhotonUnionShuffleMapStage", "WholeStageCodegen"),
    ("PhotonTopK", "TakeOrderedAndProject"), ("PhotonAgg", "HashAggregate"), ("PhotonGroupingAgg", "HashAggregate"),
    ("PhotonGroupingAggWithRollup", "HashAggregate"), ("PhotonBroadcastExchange", "BroadcastExchange"), ("PhotonBroadcastHashJoin", "BroadcastHashJoin"),
    ("PhotonBroadcastNestedLoopJoin", "BroadcastNestedLoopJoin"), ("PhotonExpand", "Expand"), ("PhotonFilter", "Filter"),
    ("PhotonGenerate", "Generate"), ("PhotonLocalLimit", "LocalLimit"), ("PhotonGlobalLimit", "GlobalLimit"), ("PhotonProject", "Project"),
    ("PhotonShuffledHashJoin", "ShuffledHashJoin"), ("PhotonSortMergeJoin", "SortMergeJoin"), ("PhotonShuffleExchangeSink", "Exchange"),
    ("PhotonShuffleExchangeSource", "AQEShuffleRead"), ("PhotonShuffleMapStage", "WholeStageCodegen"), ("PhotonSort", "Sort"),
    ("PhotonUnion", "Union"), ("PhotonWindow", "Window"), ("PhotonRowToColumnar", "RowToColumnar"), ("PhotonColumnarToRow", "ColumnarToRow"),
    ("PhotonWriteStage", "WriteFiles"), ("PhotonDataWriter", "WriteFiles"), ("PhotonBroadcastMapStage", "WholeStageCodegen"),
];

/// Gluten (Velox/ClickHouse backends) operator → Spark operator.
const GLUTEN: &[(&str, &str)] = &[
    ("FileSourceScanExecTransformer", "Scan"), ("BatchScanExecTransformer", "Scan"), ("FilterExecTransformer", "Filter"),
    ("ProjectExecTransformer", "Project"), ("HashAggregateExecTransformer", "HashAggregate"), ("RegularHashAggregateExecTransformer", "HashAggregate"),
    ("FlushableHashAggregateExecTransformer", "HashAggregate"), ("SortExecTransformer", "Sort"), ("WindowExecTransformer", "Window"),
    ("ShuffledHashJoinExecTransformer", "ShuffledHashJoin"), ("BroadcastHashJoinExecTransformer", "BroadcastHashJoin"),
    ("SortMergeJoinExecTransformer", "SortMergeJoin"), ("ColumnarShuffleExchange", "Exchange"), ("ColumnarBroadcastExchange", "BroadcastExchange"),
    ("VeloxColumnarToRow", "ColumnarToRow"), ("VeloxColumnarToRowExec", "ColumnarToRow"), ("RowToVeloxColumnar", "RowToColumnar"),
    ("ColumnarUnionExec", "Union"), ("UnionExecTransformer", "Union"), ("LimitTransformer", "GlobalLimit"), ("ExpandExecTransformer", "Expand"),
    ("GenerateExecTransformer", "Generate"), ("TakeOrderedAndProjectExecTransformer", "TakeOrderedAndProject"),
    ("WholeStageCodegenTransformer", "WholeStageCodegen"), ("InputIteratorTransformer", "InputAdapter"), ("VeloxAppendBatches", "InputAdapter"),
];

/// Comet and Auron native operator → Spark operator.
const NATIVE: &[(&str, &str)] = &[
    ("CometScan", "Scan"), ("CometNativeScan", "Scan"), ("CometFilter", "Filter"), ("CometProject", "Project"),
    ("CometHashAggregate", "HashAggregate"), ("CometSort", "Sort"), ("CometExchange", "Exchange"), ("CometColumnarExchange", "Exchange"),
    ("CometBroadcastExchange", "BroadcastExchange"), ("CometBroadcastHashJoin", "BroadcastHashJoin"), ("CometHashJoin", "ShuffledHashJoin"),
    ("CometSortMergeJoin", "SortMergeJoin"), ("CometWindow", "Window"), ("CometUnion", "Union"), ("CometExpand", "Expand"),
    ("CometLocalLimit", "LocalLimit"), ("CometGlobalLimit", "GlobalLimit"), ("CometTakeOrderedAndProject", "TakeOrderedAndProject"),
    ("CometColumnarToRow", "ColumnarToRow"), ("CometSparkToColumnar", "RowToColumnar"), ("CometCollectLimit", "CollectLimit"),
    ("NativeParquetScan", "Scan"), ("NativeOrcScan", "Scan"), ("NativeFilter", "Filter"), ("NativeProject", "Project"),
    ("NativeAgg", "HashAggregate"), ("NativeSort", "Sort"), ("NativeShuffleExchange", "Exchange"), ("NativeBroadcastExchange", "BroadcastExchange"),
    ("NativeBroadcastJoin", "BroadcastHashJoin"), ("NativeShuffledHashJoin", "ShuffledHashJoin"), ("NativeSortMergeJoin", "SortMergeJoin"),
    ("NativeWindow", "Window"), ("NativeUnion", "Union"), ("NativeExpand", "Expand"), ("NativeGenerate", "Generate"),
    ("NativeGlobalLimit", "GlobalLimit"), ("NativeLocalLimit", "LocalLimit"), ("NativeTakeOrdered", "TakeOrderedAndProject"),
    ("NativeParquetSink", "WriteFiles"), ("ConvertToNative", "RowToColumnar"), ("NativeRenameColumns", "Project"),
];

/// Databricks query-profile tags (`PHOTON_GROUPING_AGG_EXEC`) → Spark operator.
const PROFILE_TAGS: &[(&str, &str)] = &[
    ("ADAPTIVE_SPARK_PLAN", "AdaptiveSparkPlan"), ("RESULTQUERYSTAGE", "ResultQueryStage"), ("SHUFFLEQUERYSTAGE", "ShuffleQueryStage"),
    ("BROADCASTQUERYSTAGE", "BroadcastQueryStage"), ("COLUMNAR_TO_ROW", "ColumnarToRow"), ("ROW_TO_COLUMNAR", "RowToColumnar"),
    ("TOPK", "TakeOrderedAndProject"), ("SHUFFLE_EXCHANGE_SINK", "Exchange"), ("SHUFFLE_EXCHANGE_SOURCE", "AQEShuffleRead"),
    ("SHUFFLE_EXCHANGE", "Exchange"), ("BROADCAST_EXCHANGE", "BroadcastExchange"), ("GROUPING_AGG", "HashAggregate"), ("HASH_AGGREGATE", "HashAggregate"),
    ("AGG", "HashAggregate"), ("PROJECT", "Project"), ("FILTER", "Filter"), ("BROADCAST_HASH_JOIN", "BroadcastHashJoin"),
    ("SHUFFLED_HASH_JOIN", "ShuffledHashJoin"), ("SORT_MERGE_JOIN", "SortMergeJoin"), ("BROADCAST_NESTED_LOOP_JOIN", "BroadcastNestedLoopJoin"),
    ("DATA_SOURCE_SCAN", "Scan"), ("FILE_SOURCE_SCAN", "Scan"), ("SCAN", "Scan"), ("SUBQUERY_BROADCAST", "SubqueryBroadcast"),
    ("COLLECT_LIMIT", "CollectLimit"), ("GLOBAL_LIMIT", "GlobalLimit"), ("LOCAL_LIMIT", "LocalLimit"), ("REUSED_EXCHANGE", "ReusedExchange"),
    ("RESULT_STAGE", "WholeStageCodegen"), ("SHUFFLE_MAP_STAGE", "WholeStageCodegen"), ("WHOLE_STAGE_CODEGEN", "WholeStageCodegen"),
    ("SORT", "Sort"), ("WINDOW", "Window"), ("UNION", "Union"), ("EXPAND", "Expand"), ("GENERATE", "Generate"),
];

/// Map a printed operator name (first word, or `Scan parquet`) to its Spark operator.
pub fn spark_name(operator: &str) -> String {
    let head = operator.split_whitespace().next().unwrap_or(operator);
    for table in [PHOTON, GLUTEN, NATIVE] {
        if let Some((_, s)) = table.iter().find(|(n, _)| *n == head) {
            return s.to_string();
        }
    }
    // Gluten and Comet names not in the tables: strip the suffix/prefix and retry.
    for suffix in ["ExecTransformer", "Transformer", "Exec"] {
        if let Some(base) = head.strip_suffix(suffix)
            && SPARK.iter().any(|(n, _)| *n == base) {
                return base.to_string();
            }
    }
    for prefix in ["Photon", "Comet", "Native", "Gpu", "Velox"] {
        if let Some(base) = head.strip_prefix(prefix)
            && SPARK.iter().any(|(n, _)| *n == base) {
                return base.to_string();
            }
    }
    head.to_string()
}

/// Map a query-profile tag (`PHOTON_GROUPING_AGG_EXEC`, `UNKNOWN_SPARK_PLAN.ResultQueryStage`).
pub fn spark_name_from_tag(tag: &str) -> Option<String> {
    if let Some((_, name)) = tag.split_once('.') {
        return Some(name.to_string());
    }
    let core = tag.trim_start_matches("PHOTON_").trim_start_matches("UNKNOWN_").trim_end_matches("_EXEC");
    PROFILE_TAGS.iter().find(|(t, _)| *t == core).map(|(_, s)| s.to_string())
}

/// The family of a Spark operator name; `Other` when unknown (the node is kept).
pub fn family_of(spark_operator: &str) -> Family {
    SPARK.iter().find(|(n, _)| *n == spark_operator).map(|(_, f)| *f).unwrap_or(Family::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_names_map_to_spark_families() {
        assert_eq!(family_of(&spark_name("PhotonGroupingAgg")), Family::Aggregate);
        assert_eq!(family_of(&spark_name("PhotonShuffleExchangeSink")), Family::Exchange);
        assert_eq!(family_of(&spark_name("FilterExecTransformer")), Family::Filter);
        assert_eq!(family_of(&spark_name("CometHashAggregate")), Family::Aggregate);
        assert_eq!(family_of(&spark_name("NativeSortMergeJoin")), Family::Join);
        assert_eq!(family_of(&spark_name("ShuffledHashJoinExecTransformer")), Family::Join);
        assert_eq!(family_of(&spark_name("Scan parquet")), Family::Scan);
        assert_eq!(family_of(&spark_name("FancyNewOperator")), Family::Other);
        assert_eq!(spark_name_from_tag("PHOTON_GROUPING_AGG_EXEC").as_deref(), Some("HashAggregate"));
        assert_eq!(spark_name_from_tag("UNKNOWN_SPARK_PLAN.ResultQueryStage").as_deref(), Some("ResultQueryStage"));
    }
}
