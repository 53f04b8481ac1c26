//! Identifiers and timestamps in the formats the real VPC API uses (`0717_<uuid>` ids,
//! `crn:v1:bluemix:public:is:...` CRNs, RFC 3339 times), without an extra uuid crate.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The one region the mock serves.
pub const REGION: &str = "us-south";
/// The mock account id used in CRNs.
pub const ACCOUNT: &str = "a/0123456789abcdef0123456789abcdef";

/// A random RFC 4122 version-4 UUID.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    // openssl's CSPRNG only fails when the system entropy source is broken; fall back
    // to a time-derived value so an id is still produced rather than panicking.
    if openssl::rand::rand_bytes(&mut b).is_err() {
        let n = OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .to_le_bytes();
        b.copy_from_slice(&n);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Words for [`random_name`].
const WORDS: [&str; 64] = [
    "amber", "anchor", "antler", "aspen", "autumn", "badge", "banjo", "basalt", "beacon", "birch",
    "blanket", "bramble", "breeze", "bucket", "cactus", "canyon", "cedar", "cobalt", "comet",
    "coral", "cosmic", "crater", "daisy", "delta", "drizzle", "ember", "fable", "falcon", "fern",
    "fjord", "galaxy", "garnet", "glacier", "harbor", "hazel", "island", "jasper", "juniper",
    "kettle", "lagoon", "lantern", "maple", "meadow", "nectar", "nimbus", "oasis", "orchid",
    "pebble", "pepper", "prairie", "quartz", "raven", "ripple", "saffron", "sequoia", "sparrow",
    "spruce", "thicket", "tundra", "velvet", "walnut", "willow", "yonder", "zephyr",
];

/// A name the way IBM names an object the request left unnamed: "If unspecified, the name
/// will be a hyphenated list of randomly-selected words" (IBM/vpc-node-sdk `vpc/v1.ts`,
/// `VolumePrototypeInstanceByImageContext.name` and every other prototype's `name`).
pub fn random_name() -> String {
    let mut b = [0u8; 4];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        b.copy_from_slice(&now_ms().to_le_bytes()[..4]);
    }
    b.iter()
        .map(|x| WORDS[usize::from(*x) % WORDS.len()])
        .collect::<Vec<_>>()
        .join("-")
}

/// A zonal resource id, e.g. `0717_<uuid>` for us-south-2 (prefix per zone as the real API).
pub fn zonal_id(zone: &str) -> String {
    let prefix = match zone {
        "us-south-1" => "0716",
        "us-south-2" => "0717",
        "us-south-3" => "0727",
        _ => "0700",
    };
    format!("{prefix}_{}", uuid())
}

/// A regional resource id, e.g. `r006-<uuid>`.
pub fn regional_id() -> String {
    format!("r006-{}", uuid())
}

/// The CRN of a VPC resource.
pub fn crn(kind: &str, zone: Option<&str>, id: &str) -> String {
    let scope = zone.unwrap_or(REGION);
    format!("crn:v1:bluemix:public:is:{scope}:{ACCOUNT}::{kind}:{id}")
}

/// Milliseconds since the Unix epoch (the mock's clock unit everywhere in its state).
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// RFC 3339 rendering of a millisecond timestamp, whole seconds as the real API prints.
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}
