//! Pins every field, enum value and RPC of the tfplugin6 definitions we compile against the
//! wire table of Terraform v1.15.5 (`proto/tfplugin6-v1.15.5.wire.tsv`, written by
//! `scripts/proto-wire-table.py` from the descriptor Terraform's release build embeds), so a
//! wrong field number, type or label can never come back silently.

use std::collections::BTreeSet;

use prost::Message;
use prost_types::{field_descriptor_proto::Label, field_descriptor_proto::Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};

const TABLE: &str = include_str!("../../../proto/tfplugin6-v1.15.5.wire.tsv");
const COMPILED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wire_descriptors.bin"));

/// Fields Terraform 1.15.5 has in messages we compile but that we leave out on purpose
/// (features this provider does not serve: state stores and actions). Leaving a field out is
/// safe, since proto3 ignores unknown fields; a field present with a wrong number or type is not.
const NOT_SERVED: &[&str] = &[
    ".tfplugin6.GetMetadata.Response state_stores",
    ".tfplugin6.GetMetadata.Response actions",
    ".tfplugin6.GetProviderSchema.Response state_store_schemas",
    ".tfplugin6.GetProviderSchema.Response action_schemas",
];

type Row = [String; 7];

fn table() -> BTreeSet<Row> {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 7, "malformed table row {l:?}");
            std::array::from_fn(|i| cols[i].to_string())
        })
        .collect()
}

fn row(cols: [&str; 7]) -> Row {
    cols.map(str::to_string)
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Group => "group",
        Type::Message => "message",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Enum => "enum",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
    }
}

fn message_rows(m: &DescriptorProto, prefix: &str, rows: &mut BTreeSet<Row>) {
    let full = format!("{prefix}{}", m.name());
    rows.insert(row(["message", &full, "", "", "", "", ""]));
    for f in &m.field {
        let ty = match f.r#type() {
            Type::Message | Type::Enum => f.type_name().to_string(),
            t => type_name(t).to_string(),
        };
        let label = if f.proto3_optional() {
            "proto3_optional"
        } else {
            match f.label() {
                Label::Optional => "optional",
                Label::Required => "required",
                Label::Repeated => "repeated",
            }
        };
        let oneof = match f.oneof_index {
            Some(i) if !f.proto3_optional() => m.oneof_decl[i as usize].name().to_string(),
            _ => String::new(),
        };
        let number = f.number().to_string();
        rows.insert(row(["field", &full, f.name(), &number, label, &ty, &oneof]));
    }
    for nested in &m.nested_type {
        message_rows(nested, &format!("{full}."), rows);
    }
    for e in &m.enum_type {
        enum_rows(e, &format!("{full}."), rows);
    }
}

fn enum_rows(e: &EnumDescriptorProto, prefix: &str, rows: &mut BTreeSet<Row>) {
    let full = format!("{prefix}{}", e.name());
    for v in &e.value {
        let number = v.number().to_string();
        rows.insert(row(["enum", &full, v.name(), &number, "", "", ""]));
    }
}

fn compiled() -> BTreeSet<Row> {
    let set = FileDescriptorSet::decode(COMPILED).expect("compiled descriptor set");
    let file = set
        .file
        .iter()
        .find(|f| f.package() == "tfplugin6")
        .expect("tfplugin6 compiled");
    let prefix = ".tfplugin6.";
    let mut rows = BTreeSet::new();
    for m in &file.message_type {
        message_rows(m, prefix, &mut rows);
    }
    for e in &file.enum_type {
        enum_rows(e, prefix, &mut rows);
    }
    for s in &file.service {
        let service = format!("{prefix}{}", s.name());
        for m in &s.method {
            let streaming = format!(
                "{}{}",
                if m.client_streaming() {
                    "client_stream"
                } else {
                    ""
                },
                if m.server_streaming() {
                    "server_stream"
                } else {
                    ""
                }
            );
            let io = format!("{} -> {}", m.input_type(), m.output_type());
            rows.insert(row(["rpc", &service, m.name(), "", &streaming, &io, ""]));
        }
    }
    rows
}

#[test]
fn every_compiled_definition_matches_terraform_1_15_5() {
    let upstream = table();
    let ours = compiled();
    let wrong: Vec<String> = ours.difference(&upstream).map(|r| r.join(" ")).collect();
    assert!(
        wrong.is_empty(),
        "compiled definitions that Terraform 1.15.5 does not have (or has with another \
         number, label or type):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn compiled_messages_have_all_of_terraforms_fields() {
    let upstream = table();
    let ours = compiled();
    let our_messages: BTreeSet<&str> = ours
        .iter()
        .filter(|r| r[0] == "message")
        .map(|r| r[1].as_str())
        .collect();
    let our_enums: BTreeSet<&str> = ours
        .iter()
        .filter(|r| r[0] == "enum")
        .map(|r| r[1].as_str())
        .collect();
    let missing: Vec<String> = upstream
        .difference(&ours)
        .filter(|r| match r[0].as_str() {
            "field" => our_messages.contains(r[1].as_str()),
            "enum" => our_enums.contains(r[1].as_str()),
            _ => false,
        })
        .filter(|r| !NOT_SERVED.contains(&format!("{} {}", r[1], r[2]).as_str()))
        .map(|r| r.join(" "))
        .collect();
    assert!(
        missing.is_empty(),
        "fields or enum values of compiled messages missing from our definitions:\n{}",
        missing.join("\n")
    );
    for entry in NOT_SERVED {
        let (message, field) = entry.split_once(' ').unwrap();
        assert!(
            upstream
                .iter()
                .any(|r| r[0] == "field" && r[1] == message && r[2] == field),
            "{entry} is listed as not served but Terraform 1.15.5 does not have it"
        );
    }
}

#[test]
fn the_table_covers_the_protocol() {
    let upstream = table();
    let count = |kind: &str| upstream.iter().filter(|r| r[0] == kind).count();
    // Sanity: the table is the whole protocol, not a fragment.
    assert!(count("rpc") >= 30, "{} RPCs", count("rpc"));
    assert!(count("field") >= 300, "{} fields", count("field"));
    assert!(upstream.contains(&row([
        "field",
        ".tfplugin6.UpgradeResourceIdentity.Request",
        "raw_identity",
        "3",
        "optional",
        ".tfplugin6.RawState",
        "",
    ])));
}
