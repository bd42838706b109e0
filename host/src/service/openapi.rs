//! The OpenAPI 3.1 description of the API, served at `/api/agent/openapi.json`. Written
//! by hand next to the routes it describes; a test checks that every route the router
//! serves is described here and that the document is well-formed.

use axum::Json;
use serde_json::{json, Value};

fn error_responses(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        let what = match *c {
            "400" => "Malformed request (invalid JSON, bad header)",
            "401" => "Missing, invalid or expired credentials",
            "404" => "No such job for this tenant",
            "409" => "The job is not in a state that allows this",
            "413" => "Request body larger than MAX_BODY_BYTES (JSON) or MAX_UPLOAD_BYTES (a plan file), or a plan larger than MAX_PLAN_BYTES_IN_FLIGHT",
            "415" => "Content-Encoding other than gzip or zstd (or any on a multipart request)",
            "422" => "Validation failed; `fields` lists each invalid field by path",
            "429" => "A limit reached (RATE_LIMIT_PER_MINUTE, MAX_SUBMISSIONS_PER_TENANT, MAX_PLAN_BYTES_IN_FLIGHT, MAX_STREAMS_PER_CALLER; the message names it); see Retry-After",
            "503" => "Store unavailable; retry",
            _ => "Error",
        };
        m.insert(c.to_string(), json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
    }
    Value::Object(m)
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    base
}

fn job_id() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
}

/// The document.
pub fn spec() -> Value {
    let secured = json!([{"bearer": []}, {"apiKey": []}]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "planmap",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Maps every Spark physical-plan node to the source code that produced it: file, symbol and line range, with a calibrated confidence, evidence and ranked alternatives."
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (or a static API key)"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "schemas": {
                "Error": {
                    "type": "object", "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}, "requestId": {"type": "string"},
                        "fields": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}
                    }}}
                },
                "Submission": {
                    "type": "object", "additionalProperties": false, "required": ["repoUrl"],
                    "description": "Exactly one of `plan` and `dagNodes`.",
                    "properties": {
                        "analysisId": {"type": "string", "maxLength": 200},
                        "repoUrl": {"type": "string", "description": "https or ssh URL (local paths only when REPO_ALLOW_LOCAL)"},
                        "branch": {"type": "string"},
                        "commit": {"type": "string", "pattern": "^[0-9a-fA-F]{7,40}$"},
                        "token": {"type": "string", "writeOnly": true, "description": "Repository access token: used for the fetch only, never stored, logged or returned"},
                        "targetPaths": {"type": "array", "items": {"type": "string"}},
                        "plan": {"description": "EXPLAIN text, event log text, REST JSON or query profile (string or JSON)", "oneOf": [{"type": "string"}, {"type": "object"}, {"type": "array"}]},
                        "planFormat": {"type": "string", "enum": ["explain", "formatted", "event-log", "rest", "query-profile", "dag-nodes"]},
                        "executionId": {"type": "integer", "minimum": 0},
                        "dagNodes": {"type": "array", "items": {"type": "object"}},
                        "graph": {"type": "string", "default": "default"}
                    }
                },
                "Accepted": {"type": "object", "properties": {
                    "jobId": {"type": "string"}, "status": {"type": "string"}, "created": {"type": "boolean"}, "statusUrl": {"type": "string"}, "eventsUrl": {"type": "string"}, "mappingsUrl": {"type": "string"},
                    "execution": {"$ref": "#/components/schemas/Execution"},
                    "executions": {"type": "array", "items": {"$ref": "#/components/schemas/Execution"}, "description": "Every execution of an uploaded file that holds several, when none was chosen (the largest is mapped)"},
                }},
                "Execution": {"type": "object", "properties": {"id": {"type": "integer"}, "description": {"type": "string"}, "callSite": {"type": "string"}, "nodes": {"type": "integer"}}},
                "Job": {"type": "object", "properties": {
                    "jobId": {"type": "string"}, "analysisId": {"type": ["string", "null"]},
                    "status": {"type": "string", "enum": ["queued", "running", "completed", "failed", "cancelled"]},
                    "stage": {"type": "string"},
                    "progress": {"type": "object", "properties": {"nodesDone": {"type": "integer"}, "nodesTotal": {"type": "integer"}, "percent": {"type": "number"}}},
                    "cost": {"type": "object", "properties": {"usd": {"type": "number"}, "budgetUsd": {"type": ["number", "null"]}}},
                    "summary": {"type": ["object", "null"]}, "graph": {"type": "object"}, "repo": {"type": "object"},
                    "error": {"type": ["string", "null"]}, "attempts": {"type": "integer"}, "createdAt": {"type": "integer"}, "updatedAt": {"type": "integer"}
                }},
                "Mapping": {"type": "object", "required": ["dagNodeId", "operator", "status", "mappedCode", "confidence", "explanation", "evidence", "alternatives"], "properties": {
                    "mappingId": {"type": "integer"}, "dagNodeId": {"type": "string"}, "operator": {"type": "string"}, "family": {"type": "string"},
                    "status": {"type": "string", "enum": ["confirmed", "probable", "uncertain", "unmapped", "infrastructure"]},
                    "ownership": {"type": "string", "enum": ["owned", "induced", "infrastructure"]}, "inducedBy": {"type": "string"},
                    "mappedCode": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {"file": {"type": "string"}, "symbol": {"type": "string"}, "lines": {"type": "string"}, "lineStart": {"type": "integer"}, "lineEnd": {"type": "integer"}}}]},
                    "confidence": {"type": "number"}, "explanation": {"type": "string"},
                    "evidence": {"type": "array", "items": {"type": "object", "properties": {"signal": {"type": "string"}, "weight": {"type": "number"}, "detail": {"type": "string"}}}},
                    "alternatives": {"type": "array", "items": {"type": "object"}}, "metadata": {"type": "object"}
                }}
            }
        },
        "paths": {
            "/api/agent/map-to-code": {"post": {
                "summary": "Submit a mapping job", "security": secured,
                "description": "The plan inline in a JSON body, or as a file: a raw body (any other content type, optionally Content-Encoding gzip or zstd) with the other fields as query parameters, or multipart/form-data with a `plan` file part and the fields as form fields.",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 255}, "description": "The same key and body return the same job"},
                    {"name": "X-Repo-Token", "in": "header", "schema": {"type": "string"}, "description": "The repository access token with a raw upload (never in the URL)"},
                    {"name": "repoUrl", "in": "query", "schema": {"type": "string"}, "description": "With a raw upload: the submission's fields as query parameters (repoUrl, branch, commit, targetPaths, planFormat, executionId, graph, analysisId)"},
                ],
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Submission"}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {"schema": {"type": "object", "required": ["plan", "repoUrl"], "properties": {"plan": {"type": "string", "format": "binary"}, "repoUrl": {"type": "string"}}}},
                }},
                "responses": with(json!({"202": {"description": "Accepted", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}}}), error_responses(&["400", "401", "409", "413", "415", "422", "429", "503"]))
            }},
            "/api/agent/jobs": {"get": {
                "summary": "The caller's recent jobs", "security": secured,
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}}],
                "responses": with(json!({"200": {"description": "Jobs, newest first"}}), error_responses(&["401", "422"]))
            }},
            "/api/agent/jobs/{id}": {"get": {
                "summary": "Job status, stage, progress, cost and summary", "security": secured, "parameters": [job_id()],
                "responses": with(json!({"200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}}}), error_responses(&["401", "404"]))
            }},
            "/api/agent/jobs/{id}/mappings": {"get": {
                "summary": "Mappings in the `planmap map --format json` shape, filtered and paginated", "security": secured,
                "parameters": [job_id(),
                    {"name": "status", "in": "query", "schema": {"type": "string"}, "description": "Comma-separated statuses"},
                    {"name": "minConfidence", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 1}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}}],
                "responses": with(json!({"200": {"description": "A page of mappings", "content": {"application/json": {"schema": {"type": "object", "properties": {"mappings": {"type": "array", "items": {"$ref": "#/components/schemas/Mapping"}}, "page": {"type": "object"}}}}}}}), error_responses(&["401", "404", "422"]))
            }},
            "/api/agent/jobs/{id}/events": {"get": {
                "summary": "Server-Sent Events: stage started/finished, node mapped, job finished", "security": secured,
                "parameters": [job_id(), {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}, {"name": "after", "in": "query", "schema": {"type": "integer"}}],
                "responses": with(json!({"200": {"description": "An event stream", "content": {"text/event-stream": {}}}}), error_responses(&["401", "404", "422", "429"]))
            }},
            "/api/agent/jobs/{id}/cancel": {"post": {
                "summary": "Cancel a queued or running job", "security": secured, "parameters": [job_id()],
                "responses": with(json!({"200": {"description": "Cancelled"}}), error_responses(&["401", "404", "409"]))
            }},
            "/api/agent/jobs/{id}/resume": {"post": {
                "summary": "Resume a failed or cancelled job from its checkpoints", "security": secured, "parameters": [job_id()],
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {"token": {"type": "string", "writeOnly": true}}}}}},
                "responses": with(json!({"202": {"description": "Queued again"}}), error_responses(&["400", "401", "404", "409", "422"]))
            }},
            "/api/agent/mappings/{id}/feedback": {"post": {
                "summary": "Say whether a mapping was right, or where the right code is", "security": secured,
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}, "description": "mappingId from the mappings endpoint"}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["verdict"], "properties": {
                    "verdict": {"type": "string", "enum": ["correct", "wrong", "corrected"]}, "file": {"type": "string"}, "lines": {"type": "string", "examples": ["40-44"]}, "note": {"type": "string"}}}}}},
                "responses": with(json!({"201": {"description": "Recorded"}}), error_responses(&["400", "401", "404", "422"]))
            }},
            "/api/agent/experiments": {"get": {
                "summary": "Per A/B variant: exposures, latency, errors by kind, mean confidence, status mix, shadow agreement, feedback and accuracy (95% Wilson interval)", "security": secured,
                "parameters": [{"name": "since", "in": "query", "schema": {"type": "integer"}, "description": "Unix ms"}],
                "responses": with(json!({"200": {"description": "Experiments"}}), error_responses(&["401", "422"]))
            }},
            "/api/agent/graphs": {"get": {"summary": "Loaded graphs and the last reload's outcome", "security": secured, "responses": with(json!({"200": {"description": "Graphs"}}), error_responses(&["401"]))}},
            "/api/agent/plugins": {"get": {"summary": "Loaded plugins with digests and the last reload's outcome", "security": secured, "responses": with(json!({"200": {"description": "Plugins"}}), error_responses(&["401"]))}},
            "/api/agent/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "Up"}}}},
            "/api/agent/ready": {"get": {"summary": "Readiness: store reachable and snapshot loaded", "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}}}},
            "/api/agent/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "Text exposition format"}, "404": {"description": "METRICS_ENABLED=false"}}}}
        }
    })
}

/// `GET /api/agent/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(spec())
}
