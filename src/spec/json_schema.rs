//! JSON Schemas of the pipeline file and the schema file, generated from the types that read
//! them ([`PipelineSpec`], [`SchemaSpec`]: their keys, types, defaults and doc comments), so that
//! an editor that reads `#:schema` comments (VS Code with Even Better TOML, any Taplo-based
//! editor) completes the keys and flags mistakes as the user types. The files are committed
//! under [`PIPELINE_PATH`] and [`SCHEMA_PATH`]; a test keeps them equal to these and checks the
//! committed pipelines and schemas against them.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;

use super::schema::SchemaSpec;
use super::PipelineSpec;

/// Where the pipeline file's JSON Schema is committed, from the repository root.
pub const PIPELINE_PATH: &str = "docs/json-schema/pipeline.schema.json";
/// Where the schema file's JSON Schema is committed, from the repository root.
pub const SCHEMA_PATH: &str = "docs/json-schema/schema.schema.json";

/// The JSON Schema of a pipeline file (`pipelines/*.toml`), as pretty-printed JSON.
pub fn pipeline() -> String {
    render::<PipelineSpec>("peiling pipeline file")
}

/// The JSON Schema of a schema file (`schemas/*.schema.toml`), as pretty-printed JSON.
pub fn schema_file() -> String {
    render::<SchemaSpec>("peiling schema file")
}

/// Draft 7, which every Taplo-based editor reads.
fn render<T: JsonSchema>(title: &str) -> String {
    let mut schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
    text.push('\n');
    text
}
