//! JSON (from the spec-test files) to BSON.

#![allow(dead_code)]

use bson::Bson;
use serde_json::Value;

/// Plain JSON to BSON: integers become Int32 when they fit (as the server expects for
/// `times`, `errorCode`, `blockTimeMS`), else Int64.
pub fn json_to_bson(v: &Value) -> Bson {
    match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i32::try_from(i).map(Bson::Int32).unwrap_or(Bson::Int64(i)),
            None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(a) => Bson::Array(a.iter().map(json_to_bson).collect()),
        Value::Object(o) => Bson::Document(o.iter().map(|(k, v)| (k.clone(), json_to_bson(v))).collect()),
    }
}
