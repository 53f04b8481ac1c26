//! libvirt connection URIs: `driver[+transport]://[user@][host][:port]/path[?param=value&…]`,
//! e.g. `qemu+ssh://admin@lpar1/system`, `qemu+tls://host/system`, `qemu:///system`.
//!
//! The transport, host, port, user and the remote driver's own parameters (`socket`,
//! `pkipath`, `no_verify`, `keyfile`, `known_hosts`, `proxy`, `command`, `netcat`,
//! `no_tty`, `sshauth`) are ours; what is left (`driver:///path` plus other parameters)
//! is the name libvirtd opens.

use std::fmt;

/// How the bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A local UNIX socket (`qemu:///system`, `qemu+unix:///system`).
    Unix,
    /// Plain TCP (port 16509): no encryption, no authentication of the host.
    Tcp,
    /// TLS with client certificates (port 16514).
    Tls,
    /// The system `ssh` client running `virt-ssh-helper` (or `nc -U`) on the host.
    Ssh,
}

/// A parsed connection URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectUri {
    pub driver: String,
    pub transport: Transport,
    pub user: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `/system`, `/session`, `/default`, …
    pub path: String,
    /// Parameters meant for the client (percent-decoded).
    pub client_params: Vec<(String, String)>,
    /// Parameters passed on in the name libvirtd opens (as written).
    pub server_params: Vec<(String, String)>,
}

/// A URI we cannot use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriError(pub String);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UriError {}

const CLIENT_PARAMS: &[&str] = &[
    "socket",
    "pkipath",
    "no_verify",
    "keyfile",
    "known_hosts",
    "known_hosts_verify",
    "proxy",
    "command",
    "netcat",
    "no_tty",
    "sshauth",
    "name",
    "tls_priority",
    "mode",
];

impl ConnectUri {
    pub fn parse(uri: &str) -> Result<ConnectUri, UriError> {
        let bad = |why: &str| {
            UriError(format!(
                "libvirt URI {uri:?} {why}; expected e.g. qemu+ssh://user@host/system, qemu+tls://host/system or qemu:///system"
            ))
        };
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| bad("has no scheme"))?;
        let (driver, transport) = match scheme.split_once('+') {
            None => (scheme, None),
            Some((d, t)) => (d, Some(t)),
        };
        if driver.is_empty() || !driver.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("has no driver name before ://"));
        }
        let (authority_path, query) = match rest.split_once('?') {
            None => (rest, ""),
            Some((a, q)) => (a, q),
        };
        let (authority, path) = match authority_path.find('/') {
            None => (authority_path, String::from("/")),
            Some(i) => (&authority_path[..i], authority_path[i..].to_string()),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            None => (None, authority),
            Some((u, h)) => (Some(percent_decode(u)), h),
        };
        let (host, port) = split_host_port(hostport).map_err(|e| bad(&e))?;
        let transport = match transport {
            None | Some("unix") if host.is_none() || transport == Some("unix") => Transport::Unix,
            None => Transport::Tls,
            Some("tcp") => Transport::Tcp,
            Some("tls") => Transport::Tls,
            Some("ssh") => Transport::Ssh,
            Some("libssh" | "libssh2") => {
                return Err(bad(
                    "uses a libssh transport; use +ssh (the system ssh client) instead",
                ))
            }
            Some(t) => return Err(bad(&format!("uses the unknown transport {t:?}"))),
        };
        if matches!(transport, Transport::Tcp | Transport::Tls | Transport::Ssh) && host.is_none() {
            return Err(bad("names no host"));
        }
        let mut client_params = Vec::new();
        let mut server_params = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if CLIENT_PARAMS.contains(&k) {
                client_params.push((k.to_string(), percent_decode(v)));
            } else {
                server_params.push((k.to_string(), v.to_string()));
            }
        }
        Ok(ConnectUri {
            driver: driver.to_string(),
            transport,
            user,
            host,
            port,
            path,
            client_params,
            server_params,
        })
    }

    /// A client parameter's value, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.client_params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A yes/no client parameter (`no_verify=1`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some(v) if v != "0" && !v.is_empty())
    }

    /// The name libvirtd opens: `driver:///path[?server params]`, or the `name` parameter.
    pub fn remote_name(&self) -> String {
        if let Some(n) = self.param("name") {
            return n.to_string();
        }
        let mut name = format!("{}://{}", self.driver, self.path);
        if !self.server_params.is_empty() {
            let q: Vec<String> = self
                .server_params
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            name.push('?');
            name.push_str(&q.join("&"));
        }
        name
    }

    /// Whether this is a per-user (`/session`) connection rather than the system one.
    pub fn is_session(&self) -> bool {
        self.path.starts_with("/session")
    }
}

fn split_host_port(s: &str) -> Result<(Option<String>, Option<u16>), String> {
    if s.is_empty() {
        return Ok((None, None));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        // [IPv6]:port
        let (h, after) = rest.split_once(']').ok_or("has an unclosed [")?;
        (h, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("has a bad port {p:?}"))?,
        ),
    };
    Ok((Some(host.to_string()), port))
}

fn percent_decode(s: &str) -> String {
    fn hex_digit(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_digit(b[i + 1]), hex_digit(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_forms_parse() {
        let u = ConnectUri::parse("qemu+ssh://admin@lpar1/system").unwrap();
        assert_eq!(u.transport, Transport::Ssh);
        assert_eq!(u.user.as_deref(), Some("admin"));
        assert_eq!(u.host.as_deref(), Some("lpar1"));
        assert_eq!(u.remote_name(), "qemu:///system");

        let u =
            ConnectUri::parse("qemu+tls://host.example:16515/system?pkipath=/etc/x%20y").unwrap();
        assert_eq!(u.transport, Transport::Tls);
        assert_eq!(u.port, Some(16515));
        assert_eq!(u.param("pkipath"), Some("/etc/x y"));
        assert_eq!(u.remote_name(), "qemu:///system");

        let u = ConnectUri::parse("qemu:///system").unwrap();
        assert_eq!(u.transport, Transport::Unix);
        assert_eq!(u.host, None);

        let u = ConnectUri::parse("test+unix:///default?socket=/tmp/s/libvirt-sock").unwrap();
        assert_eq!(u.transport, Transport::Unix);
        assert_eq!(u.param("socket"), Some("/tmp/s/libvirt-sock"));
        assert_eq!(u.remote_name(), "test:///default");

        let u = ConnectUri::parse("qemu+tcp://127.0.0.1:40000/system").unwrap();
        assert_eq!((u.transport, u.port), (Transport::Tcp, Some(40000)));

        let u = ConnectUri::parse("qemu+tcp://[::1]:40000/system?extra=1").unwrap();
        assert_eq!(u.host.as_deref(), Some("::1"));
        assert_eq!(u.remote_name(), "qemu:///system?extra=1");
        // A host without a transport means TLS, as in libvirt.
        assert_eq!(
            ConnectUri::parse("qemu://h/system").unwrap().transport,
            Transport::Tls
        );
    }

    #[test]
    fn unusable_uris_say_why() {
        for (uri, why) in [
            ("lpar1", "has no scheme"),
            ("qemu+tcp:///system", "names no host"),
            ("qemu+ftp://h/system", "unknown transport"),
            ("qemu+libssh2://h/system", "system ssh client"),
            ("qemu+tcp://h:99999/system", "bad port"),
        ] {
            let e = ConnectUri::parse(uri).unwrap_err().to_string();
            assert!(e.contains(why), "{uri}: {e}");
        }
    }
}
