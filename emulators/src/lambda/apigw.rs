//! API Gateway proxy events: REST API (payload 1.0) and HTTP API (payload 2.0), with the
//! fields `lambda_http` reads.

use serde_json::{json, Map, Value};

fn query_string(query: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        s.append_pair(k, v);
    }
    s.finish()
}

pub fn rest_event(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Value {
    let q: Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mq: Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    let h: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mh: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    json!({
        "resource": path, "path": path, "httpMethod": method,
        "headers": h, "multiValueHeaders": mh,
        "queryStringParameters": if q.is_empty() { Value::Null } else { Value::Object(q) },
        "multiValueQueryStringParameters": if mq.is_empty() { Value::Null } else { Value::Object(mq) },
        "pathParameters": null, "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "resourceId": "abc123", "stage": "v1", "requestId": "rest-req",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "test"}, "resourcePath": path,
            "httpMethod": method, "requestTime": "21/Nov/2026:10:00:00 +0000", "requestTimeEpoch": 1795255200000_i64,
            "apiId": "api123", "path": format!("/v1{path}"), "domainName": "api123.execute-api.us-east-1.amazonaws.com", "protocol": "HTTP/1.1"
        },
        "body": body, "isBase64Encoded": false
    })
}

pub fn http_event(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Value {
    let q: Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let h: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut event = json!({
        "version": "2.0", "routeKey": format!("{method} {path}"), "rawPath": path,
        "rawQueryString": query_string(query), "headers": h,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api123", "domainName": "api123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "api123", "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "http-req", "routeKey": format!("{method} {path}"), "stage": "$default",
            "time": "21/Nov/2026:10:00:00 +0000", "timeEpoch": 1795255200000_i64
        },
        "isBase64Encoded": false
    });
    if !q.is_empty() {
        event["queryStringParameters"] = Value::Object(q);
    }
    if let Some(b) = body {
        event["body"] = json!(b);
    }
    event
}
