//! The Python client (`clients/python`) against a real `planmap serve` and a real
//! local PySpark: its own unittest suite, run with the Python that has pyspark
//! (`PLANMAP_PYSPARK_PYTHON`, which `tests/run` sets up).

use std::process::Command;

#[test]
fn the_python_client_maps_a_real_pyspark_dataframe_through_a_real_server() {
    let python = std::env::var("PLANMAP_PYSPARK_PYTHON").unwrap_or_else(|_| {
        panic!("PLANMAP_PYSPARK_PYTHON is not set: it names a Python with pyspark 4.1.1 installed (tests/run creates one under ~/.cache/planmap/venv-pyspark)")
    });
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(&python)
        .args(["-m", "unittest", "discover", "-s", "clients/python/tests", "-v"])
        .current_dir(root)
        .env("PLANMAP_BIN", env!("CARGO_BIN_EXE_planmap"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Python client's tests failed:\n{log}");
    assert!(log.contains("OK"), "unittest did not report success:\n{log}");
}
