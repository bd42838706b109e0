//! Plans submitted as files. A raw body (any content type but JSON and multipart;
//! `Content-Encoding: gzip` or `zstd` is decoded) brings the other fields in the query
//! string and the repository token in `X-Repo-Token`; `multipart/form-data` brings a
//! `plan` file part and the fields as form fields. The file is streamed to disk under
//! `MAX_UPLOAD_BYTES`, then put in the form it is stored in: an event log stays
//! compressed (planmap reads gzip, zstd, lz4 and snappy logs as they are) or is
//! compressed with zstd; any other plan is decoded to its text.

use super::error::ApiError;
use crate::plan;
use axum::body::Body;
use axum::extract::Multipart;
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use serde_json::{Map, Value};
use std::io::{Read, Write};
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// Longest form field or query parameter other than the file (a URL, a token, a path).
const MAX_FIELD_BYTES: usize = 16 << 10;
/// How much of a file is decoded to tell an event log from another plan.
const SNIFF_BYTES: usize = 64 << 10;
/// zstd level for event logs sent uncompressed: fast, and 10-20x smaller on Spark's JSON.
const STORE_ZSTD_LEVEL: i32 = 3;
/// Header that carries the repository token with a raw upload (a URL would log it).
pub const TOKEN_HEADER: &str = "x-repo-token";

/// A received plan file and the fields that came with it.
pub struct Upload {
    /// The submission's fields as a JSON object, for `validate::upload_fields`.
    pub fields: Value,
    /// The file in its stored form (see the module docs); removed when dropped.
    pub file: tempfile::TempPath,
    /// Bytes received.
    pub received: u64,
}

/// Whether a request carries a JSON body (the inline submission) rather than a file.
pub fn is_json(headers: &HeaderMap) -> bool {
    match headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(ct) => {
            let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            ct == "application/json" || ct.ends_with("+json")
        }
    }
}

pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large", format!("the plan file is larger than the {limit} bytes this service accepts (MAX_UPLOAD_BYTES); send one execution's plan, or a compressed event log"))
}

fn bad_upload(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_upload", message)
}

/// Content-Encoding of a raw upload.
#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(v) = headers.get(axum::http::header::CONTENT_ENCODING) else { return Ok(Encoding::Identity) };
    match v.to_str().unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "zstd" => Ok(Encoding::Zstd),
        other => Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding", format!("Content-Encoding {other:?} is not supported; send gzip, zstd or none"))),
    }
}

/// Receive the file and its fields from a raw or multipart request.
pub async fn receive(headers: &HeaderMap, query: Option<&str>, body: Body, multipart: Option<Multipart>, dir: &Path, limit: u64) -> Result<Upload, ApiError> {
    let raw = new_file(dir)?;
    let (fields, received, enc) = match multipart {
        Some(mp) => {
            if headers.contains_key(axum::http::header::CONTENT_ENCODING) {
                return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding", "Content-Encoding is not accepted on a multipart request; compress the file itself (gzip and zstd event logs are read as they are) or send it as a raw body"));
            }
            let (fields, n) = receive_multipart(mp, &raw, limit).await?;
            (fields, n, Encoding::Identity)
        }
        None => {
            let checked = (|| {
                let enc = encoding(headers)?;
                let mut fields = query_fields(query)?;
                if let Some(t) = headers.get(TOKEN_HEADER) {
                    let t = t.to_str().map_err(|_| bad_upload("X-Repo-Token must be visible ASCII"))?;
                    fields.insert("token".into(), Value::String(t.to_string()));
                }
                Ok((enc, fields))
            })();
            let (enc, fields) = match checked {
                Ok(ok) => ok,
                Err(e) => {
                    drain(body, limit).await;
                    return Err(e);
                }
            };
            let n = stream_to(body.into_data_stream(), &raw, limit).await?;
            (fields, n, enc)
        }
    };
    if received == 0 {
        return Err(bad_upload("the plan file is empty"));
    }
    let dir = dir.to_path_buf();
    let file = tokio::task::spawn_blocking(move || stored_form(raw, enc, &dir, limit)).await.map_err(|e| ApiError::internal("reading the upload", e))??;
    Ok(Upload { fields: Value::Object(fields), file, received })
}

/// JSON bodies up to this size are read in memory; larger ones go to disk first, so a
/// body is never held whole beside its parsed value.
const JSON_IN_MEMORY: usize = 1 << 20;

/// Read and parse a JSON body of at most `limit` bytes (413 beyond), spooling a large
/// one to a file in `dir` and parsing it from there.
pub async fn read_json(body: Body, limit: usize, dir: &Path) -> Result<Value, ApiError> {
    let mut stream = body.into_data_stream();
    let mut head: Vec<u8> = Vec::new();
    let mut spool: Option<(tempfile::TempPath, tokio::fs::File)> = None;
    let mut n = 0usize;
    let write_err = |e: std::io::Error| ApiError::internal("spooling the request body", e);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad_body(format!("the request body could not be read: {e}")))?;
        n += chunk.len();
        if n > limit {
            drop_rest(&mut stream, MAX_DRAIN_BYTES).await;
            return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("the JSON body is larger than the {limit} bytes this service accepts (MAX_BODY_BYTES); upload the plan as a file instead (raw body or multipart, up to MAX_UPLOAD_BYTES)")));
        }
        match &mut spool {
            Some((_, f)) => f.write_all(&chunk).await.map_err(write_err)?,
            None if head.len() + chunk.len() > JSON_IN_MEMORY => {
                let path = new_file(dir)?;
                let mut f = tokio::fs::File::create(&path).await.map_err(write_err)?;
                f.write_all(&head).await.map_err(write_err)?;
                f.write_all(&chunk).await.map_err(write_err)?;
                head = Vec::new();
                spool = Some((path, f));
            }
            None => head.extend_from_slice(&chunk),
        }
    }
    let parsed = match spool {
        None => serde_json::from_slice::<Value>(&head),
        Some((path, mut f)) => {
            f.flush().await.map_err(write_err)?;
            drop(f);
            tokio::task::spawn_blocking(move || {
                let file = std::fs::File::open(&path).map_err(serde_json::Error::io)?;
                serde_json::from_reader::<_, Value>(std::io::BufReader::new(file))
            })
            .await
            .map_err(|e| ApiError::internal("parsing the request body", e))?
        }
    };
    parsed.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {e} (line {}, column {})", e.line(), e.column())))
}

fn bad_body(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_body", message)
}

/// Keep a plan taken out of a JSON body as a file in its stored form (see the module
/// docs), as if it had been uploaded.
pub async fn spill(plan: Vec<u8>, dir: &Path, limit: u64) -> Result<Upload, ApiError> {
    let raw = new_file(dir)?;
    let received = plan.len() as u64;
    tokio::fs::write(&raw, plan).await.map_err(|e| ApiError::internal("writing the plan to disk", e))?;
    let dir = dir.to_path_buf();
    let file = tokio::task::spawn_blocking(move || stored_form(raw, Encoding::Identity, &dir, limit)).await.map_err(|e| ApiError::internal("reading the plan", e))??;
    Ok(Upload { fields: Value::Null, file, received })
}

/// Most bytes of a refused request read and dropped so that its client reads the
/// refusal: a JSON body's limit and then some; a larger body gets its connection
/// closed rather than hold a worker reading it.
const MAX_DRAIN_BYTES: u64 = 64 << 20;

/// Read and discard what is left of a refused request's body (at most `limit` bytes,
/// and `MAX_DRAIN_BYTES`; streamed, never held), so a client still sending reads the
/// refusal instead of a connection closed under it.
pub async fn drain(body: Body, limit: u64) {
    drop_rest(&mut body.into_data_stream(), limit.min(MAX_DRAIN_BYTES)).await;
}

/// Read and drop what is left of `stream`, up to about `cap` bytes.
async fn drop_rest<S, E>(stream: &mut S, cap: u64)
where
    S: futures::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
{
    let mut n = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        n += chunk.len() as u64;
        if n > cap {
            break;
        }
    }
}

/// Copy a body stream to `path`, refusing it past `limit` bytes.
async fn stream_to<S, E>(mut stream: S, path: &Path, limit: u64) -> Result<u64, ApiError>
where
    S: futures::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut out = tokio::fs::File::create(path).await.map_err(|e| ApiError::internal("writing the upload", e))?;
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad_upload(format!("the upload stopped: {e}")))?;
        n += chunk.len() as u64;
        if n > limit {
            // Read (and drop) a bounded rest, so the client reads the 413 and its
            // connection stays usable; past that the connection is closed.
            drop_rest(&mut stream, MAX_DRAIN_BYTES).await;
            return Err(too_large(limit));
        }
        out.write_all(&chunk).await.map_err(|e| ApiError::internal("writing the upload", e))?;
    }
    out.flush().await.map_err(|e| ApiError::internal("writing the upload", e))?;
    Ok(n)
}

/// The fields of a raw upload, from its query string.
fn query_fields(query: Option<&str>) -> Result<Map<String, Value>, ApiError> {
    let mut fields = Map::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == "token" {
            return Err(bad_upload("pass the repository token in the X-Repo-Token header, not in the URL (URLs are logged by proxies)"));
        }
        add_field(&mut fields, &k, v.into_owned());
    }
    Ok(fields)
}

/// One text field as the JSON submission would carry it: `targetPaths` repeats (or is
/// comma-separated), `executionId` is a number when it reads as one.
fn add_field(fields: &mut Map<String, Value>, name: &str, value: String) {
    match name {
        "targetPaths" => {
            let list = fields.entry(name).or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(items) = list {
                items.extend(value.split(',').map(str::trim).filter(|p| !p.is_empty()).map(|p| Value::String(p.to_string())));
            }
        }
        "executionId" => {
            let v = value.trim().parse::<i64>().map(Value::from).unwrap_or(Value::String(value));
            fields.insert(name.into(), v);
        }
        _ => {
            fields.insert(name.into(), Value::String(value));
        }
    }
}

async fn receive_multipart(mut mp: Multipart, path: &Path, limit: u64) -> Result<(Map<String, Value>, u64), ApiError> {
    let mut fields = Map::new();
    let mut received = None;
    let part_error = |e: axum::extract::multipart::MultipartError| if e.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large(limit) } else { bad_upload(format!("the multipart body could not be read: {}", e.body_text())) };
    while let Some(field) = mp.next_field().await.map_err(part_error)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "plan" {
            if received.is_some() {
                return Err(bad_upload("more than one `plan` part; send one plan file per job"));
            }
            received = Some(stream_to(field.map(|c| c.map_err(|e| e.body_text())), path, limit).await?);
            continue;
        }
        if name.is_empty() {
            return Err(bad_upload("a multipart part has no name; name the file part `plan` and the other parts after the submission's fields"));
        }
        let bytes = field.bytes().await.map_err(part_error)?;
        if bytes.len() > MAX_FIELD_BYTES {
            return Err(bad_upload(format!("form field `{name}` is longer than {MAX_FIELD_BYTES} bytes")));
        }
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| bad_upload(format!("form field `{name}` is not UTF-8 text")))?;
        add_field(&mut fields, &name, text);
    }
    match received {
        Some(n) => Ok((fields, n)),
        None => Err(bad_upload("the multipart body has no `plan` part (the plan file)")),
    }
}

/// Put a received file in its stored form: an event log compressed (as sent when it
/// already is, else with zstd), any other plan as its decoded text (at most
/// `plan::MAX_PLAN_BYTES`).
fn stored_form(raw: tempfile::TempPath, enc: Encoding, dir: &Path, limit: u64) -> Result<tempfile::TempPath, ApiError> {
    let io = |e: std::io::Error| ApiError::internal("reading the upload", e);
    let open = |p: &Path| -> Result<Box<dyn Read>, ApiError> {
        let f = std::io::BufReader::new(std::fs::File::open(p).map_err(io)?);
        Ok(match enc {
            Encoding::Identity => Box::new(f),
            Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(f)),
            Encoding::Zstd => Box::new(zstd::stream::read::Decoder::new(f).map_err(io)?),
        })
    };
    let undecodable = |e: std::io::Error| bad_upload(format!("the body is not valid {} data: {e}", if enc == Encoding::Gzip { "gzip" } else { "zstd" }));
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    open(&raw)?.take(SNIFF_BYTES as u64).read_to_end(&mut head).map_err(undecodable)?;
    let compressed_log = plan::is_compressed(&head);
    let log = plan::looks_like_event_log(&head);
    if log && (enc != Encoding::Identity || compressed_log) {
        // Compressed on the wire or in the file: the parser reads it as it is. A log
        // that is both (a .gz sent with Content-Encoding) is decoded once here.
        if enc != Encoding::Identity && compressed_log {
            return decode_to_file(open(&raw)?, dir, limit, undecodable);
        }
        return Ok(raw);
    }
    if log {
        let out = new_file(dir)?;
        let mut enc = zstd::stream::write::Encoder::new(std::fs::File::create(&out).map_err(io)?, STORE_ZSTD_LEVEL).map_err(io)?;
        std::io::copy(&mut std::fs::File::open(&raw).map_err(io)?, &mut enc).map_err(io)?;
        enc.finish().map_err(io)?.flush().map_err(io)?;
        return Ok(out);
    }
    if enc == Encoding::Identity {
        return Ok(raw);
    }
    decode_to_file(open(&raw)?, dir, limit.min(plan::MAX_PLAN_BYTES), undecodable)
}

fn new_file(dir: &Path) -> Result<tempfile::TempPath, ApiError> {
    Ok(tempfile::Builder::new().prefix("planmap-upload-").tempfile_in(dir).map_err(|e| ApiError::internal("creating the upload file", e))?.into_temp_path())
}

/// Decode a stream into a new file, refusing more than `limit` decoded bytes (a small
/// body can decode to a very large one).
fn decode_to_file(mut from: Box<dyn Read>, dir: &Path, limit: u64, undecodable: impl Fn(std::io::Error) -> ApiError) -> Result<tempfile::TempPath, ApiError> {
    let out = new_file(dir)?;
    let mut file = std::fs::File::create(&out).map_err(|e| ApiError::internal("writing the upload", e))?;
    let n = std::io::copy(&mut (&mut from).take(limit + 1), &mut file).map_err(undecodable)?;
    if n > limit {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large", format!("the plan file decodes to more than {limit} bytes, more than this service accepts (MAX_UPLOAD_BYTES); send one execution's plan")));
    }
    Ok(out)
}
