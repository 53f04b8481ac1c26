//! Just enough XML reading for the documents clients send the emulated host (domain and
//! volume definitions): find an element, read its text or an attribute. Anything not
//! well-formed enough for that is refused like libvirt refuses it (VIR_ERR_XML_ERROR).

/// The first element named `tag` (at any depth): its start tag's attribute text and its
/// inner text (empty for `<tag/>`).
pub fn element<'a>(xml: &'a str, tag: &str) -> Option<(&'a str, &'a str)> {
    elements(xml, tag).into_iter().next()
}

/// Every element named `tag`, in document order.
pub fn elements<'a>(xml: &'a str, tag: &str) -> Vec<(&'a str, &'a str)> {
    let open = format!("<{tag}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = xml[from..].find(&open) {
        let start = from + i;
        let after = start + open.len();
        let next = xml[after..].chars().next();
        if !matches!(next, Some(c) if c == '>' || c == '/' || c.is_whitespace()) {
            from = after;
            continue;
        }
        let Some(gt) = xml[after..].find('>') else {
            break;
        };
        let tag_end = after + gt;
        let attrs = xml[after..tag_end].trim_end_matches('/');
        if xml[..tag_end].ends_with('/') {
            out.push((attrs, ""));
            from = tag_end + 1;
            continue;
        }
        let close = format!("</{tag}>");
        let Some(c) = xml[tag_end + 1..].find(&close) else {
            break;
        };
        out.push((attrs, &xml[tag_end + 1..tag_end + 1 + c]));
        from = tag_end + 1;
    }
    out
}

/// An attribute's value in a start tag's attribute text (single or double quotes).
pub fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = attrs;
    while let Some(i) = rest.find(name) {
        let before_ok = i == 0 || rest.as_bytes()[i - 1].is_ascii_whitespace();
        let after = rest[i + name.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let q = v.chars().next()?;
                if q == '\'' || q == '"' {
                    let end = v[1..].find(q)?;
                    return Some(&v[1..1 + end]);
                }
            }
        }
        rest = &rest[i + name.len()..];
    }
    None
}

/// The text of the first `tag` element, trimmed.
pub fn text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    element(xml, tag).map(|(_, t)| t.trim())
}

/// A size element (`<memory unit='MiB'>4096</memory>`, `<capacity unit='G'>10</capacity>`)
/// in bytes; `default_unit` when no unit is given (KiB for memory, bytes for volumes).
pub fn size_bytes(xml: &str, tag: &str, default_unit: &str) -> Option<Result<u64, String>> {
    let (attrs, t) = element(xml, tag)?;
    let unit = attr(attrs, "unit").unwrap_or(default_unit);
    let n: u64 = match t.trim().parse() {
        Ok(n) => n,
        Err(_) => return Some(Err(format!("invalid value {:?} for <{tag}>", t.trim()))),
    };
    // libvirt's units (formatdomain "Memory Allocation"): b/bytes, KB=1000, k/KiB=1024, …
    let mult: u64 = match unit {
        "b" | "bytes" => 1,
        "KB" => 1000,
        "k" | "KiB" => 1 << 10,
        "MB" => 1000 * 1000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1000 * 1000 * 1000,
        "G" | "GiB" => 1 << 30,
        "TB" => 1000u64.pow(4),
        "T" | "TiB" => 1 << 40,
        u => return Some(Err(format!("unknown unit {u:?} for <{tag}>"))),
    };
    Some(
        n.checked_mul(mult)
            .ok_or_else(|| format!("<{tag}> is too large")),
    )
}

/// Escapes text for an XML attribute or element.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_elements_attributes_and_sizes() {
        let x = "<domain type='kvm'><name>g</name><memory unit='MiB'>4096</memory>\
                 <devices><disk type='volume'><source pool='default' volume='a'/></disk>\
                 <disk type='volume'><source pool=\"default\" volume=\"b\"/></disk></devices></domain>";
        assert_eq!(text(x, "name"), Some("g"));
        assert_eq!(size_bytes(x, "memory", "KiB").unwrap().unwrap(), 4096 << 20);
        let disks = elements(x, "disk");
        assert_eq!(disks.len(), 2);
        let (a, _) = element(disks[1].1, "source").unwrap();
        assert_eq!(attr(a, "volume"), Some("b"));
        assert_eq!(attr(element(x, "domain").unwrap().0, "type"), Some("kvm"));
        assert!(element(x, "nam").is_none());
    }
}
