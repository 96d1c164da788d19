//! The OTLP/HTTP JSON body of one export: `ExportTraceServiceRequest` in the protobuf
//! JSON mapping OTLP specifies — `resourceSpans[].scopeSpans[].spans[]`, ids as lowercase
//! hex (not base64), 64-bit integers (times, `intValue`) as decimal strings, enums
//! (`kind`, `status.code`) as numbers, attributes as `{key, value: AnyValue}`.

use keel_runtime::trace::{SpanData, SpanStatus, Value};
use serde_json::{Map, Value as Json, json};

/// The instrumentation scope every Keel span is reported under.
pub(crate) const SCOPE_NAME: &str = "keel";

/// The request body for `spans` from a service with `resource` attributes.
pub(crate) fn encode(resource: &[(String, String)], spans: &[SpanData]) -> Vec<u8> {
    let resource: Vec<Json> = resource
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": { "stringValue": v } }))
        .collect();
    let spans: Vec<Json> = spans.iter().map(span).collect();
    let body = json!({
        "resourceSpans": [{
            "resource": { "attributes": resource },
            "scopeSpans": [{
                "scope": { "name": SCOPE_NAME, "version": env!("CARGO_PKG_VERSION") },
                "spans": spans,
            }],
        }],
    });
    serde_json::to_vec(&body).expect("JSON values always serialize")
}

fn span(s: &SpanData) -> Json {
    let mut out = Map::new();
    out.insert("traceId".into(), s.trace_id.to_string().into());
    out.insert("spanId".into(), s.span_id.to_string().into());
    if let Some(parent) = s.parent_span_id {
        out.insert("parentSpanId".into(), parent.to_string().into());
    }
    if let Some(state) = &s.tracestate {
        out.insert("traceState".into(), state.to_string().into());
    }
    out.insert("flags".into(), u32::from(s.flags).into());
    out.insert("name".into(), s.name.to_string().into());
    out.insert("kind".into(), s.kind.otlp_code().into());
    out.insert(
        "startTimeUnixNano".into(),
        s.start_unix_nanos.to_string().into(),
    );
    out.insert(
        "endTimeUnixNano".into(),
        s.end_unix_nanos.to_string().into(),
    );
    let attributes: Vec<Json> = s
        .attributes
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": any_value(v) }))
        .collect();
    out.insert("attributes".into(), attributes.into());
    let status = match &s.status {
        SpanStatus::Unset => json!({}),
        SpanStatus::Ok => json!({ "code": 1 }),
        SpanStatus::Error(message) => json!({ "code": 2, "message": message }),
    };
    out.insert("status".into(), status);
    Json::Object(out)
}

fn any_value(v: &Value) -> Json {
    match v {
        Value::Str(s) => json!({ "stringValue": s }),
        Value::Int(n) => json!({ "intValue": n.to_string() }),
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::Float(x) => json!({ "doubleValue": x }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_runtime::trace::{SpanContext, SpanId, SpanKind};

    #[test]
    fn a_span_in_the_otlp_json_mapping() {
        let parent = SpanContext::parse_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        let mut data = SpanData::new(
            parent.trace_id(),
            SpanId::random(),
            "GET /x",
            SpanKind::Server,
        );
        data.parent_span_id = Some(parent.span_id());
        data.tracestate = Some("k=v".into());
        data.start_unix_nanos = 1000;
        data.end_unix_nanos = 2500;
        data.attributes = vec![
            ("http.response.status_code", Value::Int(200)),
            ("http.request.method", Value::from("GET")),
        ];
        data.status = SpanStatus::Error("HTTP 500".into());
        let body: Json =
            serde_json::from_slice(&encode(&[("service.name".into(), "svc".into())], &[data]))
                .unwrap();
        let rs = &body["resourceSpans"][0];
        assert_eq!(rs["resource"]["attributes"][0]["key"], "service.name");
        assert_eq!(
            rs["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
        assert_eq!(rs["scopeSpans"][0]["scope"]["name"], "keel");
        let s = &rs["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(s["spanId"].as_str().unwrap().len(), 16);
        assert_eq!(s["traceState"], "k=v");
        assert_eq!(s["name"], "GET /x");
        assert_eq!(s["kind"], 2);
        assert_eq!(s["startTimeUnixNano"], "1000");
        assert_eq!(s["endTimeUnixNano"], "2500");
        assert_eq!(s["attributes"][0]["key"], "http.response.status_code");
        assert_eq!(s["attributes"][0]["value"]["intValue"], "200");
        assert_eq!(s["attributes"][1]["value"]["stringValue"], "GET");
        assert_eq!(s["status"]["code"], 2);
        assert_eq!(s["status"]["message"], "HTTP 500");
    }
}
