//! run.json's JSON Schema and field reference, generated from the record types: the committed
//! docs/run.schema.json and the field tables of docs/results.md must be what the types give
//! (`RTCBENCH_WRITE_DOCS=1 cargo test results_schema` writes them), every field must say what
//! it is, and real run.json files must validate against the schema with an independent
//! validator.

use crate::common;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

const BEGIN: &str =
    "<!-- fields: generated from src/record/ by tests/integration/results_schema.rs -->";
const END: &str = "<!-- end of fields -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(rtcbench::record::RunResults)).expect("a schema")
}

/// The name a `$ref` points at.
fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

/// A field's type in words, with links to the tables of record types.
fn type_of(v: &Value) -> String {
    if let Some(name) = ref_name(v) {
        return format!("[{name}](#{})", name.to_lowercase());
    }
    if let Some(any) = v.get("anyOf").and_then(Value::as_array) {
        let parts: Vec<String> = any.iter().map(type_of).collect();
        return parts.join(" or ");
    }
    if let Some(one) = v.get("oneOf").and_then(Value::as_array) {
        let values: Vec<String> = one
            .iter()
            .filter_map(|o| o.get("const").or_else(|| o.get("enum")?.get(0)))
            .map(|c| format!("`{}`", c.as_str().unwrap_or_default()))
            .collect();
        return format!("one of {}", values.join(", "));
    }
    if let Some(values) = v.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(|c| format!("`{c}`")).collect();
        return format!("one of {}", values.join(", "));
    }
    let kind = match v.get("type") {
        Some(Value::Array(kinds)) => {
            let kinds: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
            return kinds.join(" or ");
        }
        Some(Value::String(k)) => k.as_str(),
        _ => return "any JSON".into(),
    };
    match kind {
        "array" => format!(
            "array of {}",
            v.get("items").map(type_of).unwrap_or_default()
        ),
        "object" => match v.get("additionalProperties") {
            Some(inner) if inner.is_object() => format!("map of {}", type_of(inner)),
            _ => "object".into(),
        },
        other => other.to_string(),
    }
}

fn description(v: &Value) -> String {
    let own = v.get("description").and_then(Value::as_str);
    let text = own.unwrap_or_default().replace('\n', " ");
    text.replace('|', "\\|")
}

/// The field tables, one per record type, RunResults first and the rest as they are reached.
fn field_reference(schema: &Value) -> (String, Vec<String>) {
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let mut out = String::new();
    let mut undocumented = Vec::new();
    let mut queue = vec![("RunResults".to_string(), schema.clone())];
    let mut seen = BTreeSet::from(["RunResults".to_string()]);
    while !queue.is_empty() {
        let (name, def) = queue.remove(0);
        let Some(properties) = def.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let required: BTreeSet<&str> = def
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push_str(&format!("### {name}\n\n"));
        let about = description(&def);
        if !about.is_empty() {
            out.push_str(&format!("{about}\n\n"));
        }
        out.push_str("| field | type | what it is |\n|---|---|---|\n");
        for (field, v) in properties {
            let said = description(v);
            if said.is_empty() {
                undocumented.push(format!("{name}.{field}"));
            }
            let optional = if required.contains(field.as_str()) {
                ""
            } else {
                " (may be absent)"
            };
            out.push_str(&format!(
                "| `{field}` | {}{optional} | {said} |\n",
                type_of(v)
            ));
            for reached in referenced(v) {
                if seen.insert(reached.clone()) {
                    let def = defs.get(&reached).cloned().unwrap_or(Value::Null);
                    queue.push((reached, def));
                }
            }
        }
        out.push('\n');
    }
    (out, undocumented)
}

/// The record types a field's schema names.
fn referenced(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        Value::Object(map) => {
            if let Some(name) = ref_name(v) {
                out.push(name.to_string());
            }
            for inner in map.values() {
                out.extend(referenced(inner));
            }
        }
        Value::Array(items) => items.iter().for_each(|i| out.extend(referenced(i))),
        _ => {}
    }
    out
}

fn results_md_with(fields: &str) -> String {
    let path = root().join("docs/results.md");
    let text = std::fs::read_to_string(&path).expect("docs/results.md");
    let (before, rest) = text
        .split_once(BEGIN)
        .expect("docs/results.md has the fields marker");
    let (_, after) = rest
        .split_once(END)
        .expect("docs/results.md has the end marker");
    format!("{before}{BEGIN}\n\n{}{END}{after}", fields)
}

#[test]
fn the_schema_and_the_field_reference_are_what_the_types_give() {
    let schema = schema();
    let text = serde_json::to_string_pretty(&schema).expect("json") + "\n";
    let (fields, undocumented) = field_reference(&schema);
    let results_md = results_md_with(&fields);
    let schema_path = root().join("docs/run.schema.json");
    let md_path = root().join("docs/results.md");
    if std::env::var_os("RTCBENCH_WRITE_DOCS").is_some() {
        std::fs::write(&schema_path, &text).expect("write schema");
        std::fs::write(&md_path, &results_md).expect("write results.md");
    }
    assert!(
        undocumented.is_empty(),
        "fields of run.json without a doc comment (say what each is in src/record/): {undocumented:?}"
    );
    let committed = std::fs::read_to_string(&schema_path).unwrap_or_default();
    assert!(
        committed == text,
        "docs/run.schema.json is not what the record types give: run RTCBENCH_WRITE_DOCS=1 cargo test results_schema"
    );
    let committed_md = std::fs::read_to_string(&md_path).unwrap_or_default();
    assert!(
        committed_md == results_md,
        "docs/results.md's field tables are not what the record types give: run RTCBENCH_WRITE_DOCS=1 cargo test results_schema"
    );
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/run.schema.json")).expect("the schema");
    let schema: Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn problems(validator: &jsonschema::Validator, run: &Value) -> Vec<String> {
    validator
        .iter_errors(run)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[tokio::test]
async fn real_run_json_files_validate_against_the_schema() {
    let _heavy = common::heavy().await;
    let dir = common::temp_dir("results-schema");
    let toml = common::small_webrtc("schema", "3s")
        + "[[group]]\nname = \"room\"\nreceivers = 2\nprobes = 1\n\
           [[group]]\nname = \"call\"\nkind = \"call\"\npairs = 1\n\
           [[gate]]\nmetric = \"e2e_latency_ms\"\nstat = \"p95\"\nbelow = 500\n";
    common::run_in_process(&dir, &toml, 3, Vec::new()).await;
    let text = std::fs::read_to_string(dir.join("out/run.json")).expect("run.json");
    let run: Value = serde_json::from_str(&text).expect("JSON");
    let validator = validator();
    assert_eq!(problems(&validator, &run), Vec::<String>::new());
    assert!(run["groups"][0]["sessions"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
    // The schema is not vacuous: a session with a string where a count belongs is refused.
    let mut broken = run.clone();
    broken["groups"][0]["sessions"][0]["packets_lost"] = Value::from("many");
    broken["groups"][0]["metrics"]["e2e_latency_ms"]["summary"]
        .as_object_mut()
        .expect("a summary")
        .remove("p95");
    let found = problems(&validator, &broken);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found.iter().any(|p| p.contains("packets_lost")),
        "{found:?}"
    );
}
