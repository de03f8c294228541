//! Where an escalation may be sent: only `https` to a public host. A remediation.yaml is
//! written by people who can store lane files, and the worker sends from inside the account:
//! a URL to the instance metadata service, the Lambda Runtime API on loopback or a private
//! address would make the worker a proxy into the network. Checked when the file is stored
//! (the host as written) and again before each send (every address the name resolves to).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Names that are private whatever they resolve to.
const PRIVATE_NAMES: [&str; 5] = [
    "localhost",
    "metadata",
    "metadata.google.internal",
    "instance-data",
    "instance-data.ec2.internal",
];

/// The URL, if it is `https` to a host that is not an address or name of a private network;
/// else why not, naming the host only (the rest of a chat webhook's URL is its secret).
pub fn public_https_url(text: &str) -> Result<url::Url, String> {
    const RULE: &str = "must be an https URL to a public host";
    let url = url::Url::parse(text).map_err(|_| format!("is not a URL: it {RULE}"))?;
    let host = url.host_str().unwrap_or_default().to_string();
    if url.scheme() != "https" {
        return Err(format!(
            "to {host} uses {}: it {RULE}",
            url.scheme().to_ascii_uppercase()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "to {host} carries a user name or password: it {RULE} (put the token in the path or query)"
        ));
    }
    match url.host() {
        None => Err(format!("has no host: it {RULE}")),
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => Err(format!(
            "to {ip} is a private, loopback, link-local or reserved address: it {RULE}"
        )),
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => Err(format!(
            "to [{ip}] is a private, loopback, link-local or reserved address: it {RULE}"
        )),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let private = PRIVATE_NAMES.contains(&name.as_str())
                || name.ends_with(".localhost")
                || name.ends_with(".internal")
                || name.ends_with(".local")
                || !name.contains('.');
            if private {
                Err(format!(
                    "to {name} names a local or internal host: it {RULE}"
                ))
            } else {
                Ok(url)
            }
        }
        Some(_) => Ok(url),
    }
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, unique
/// local), link-local (the metadata service's 169.254.169.254), shared (100.64/10),
/// unspecified, broadcast, documentation, multicast or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x64 && ip.segments()[1] == 0xff9b) // NAT64, may reach private v4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_to_a_public_host_is_a_webhook() {
        assert!(public_https_url("https://hooks.slack.com/services/T/B/secret").is_ok());
        for (url, says) in [
            (
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                "uses HTTP",
            ),
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254 is a private",
            ),
            (
                "https://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
                "127.0.0.1 is a private",
            ),
            ("https://10.1.2.3/x", "10.1.2.3 is a private"),
            ("https://[::1]/x", "[::1] is a private"),
            ("https://[::ffff:169.254.169.254]/x", "is a private"),
            ("https://localhost/x", "localhost names a local"),
            (
                "https://metadata.google.internal/x",
                "names a local or internal",
            ),
            ("https://intranet/x", "intranet names a local"),
            (
                "https://user:pw@hooks.example.com/x",
                "user name or password",
            ),
            ("not a url", "is not a URL"),
        ] {
            let why = public_https_url(url).unwrap_err();
            assert!(why.contains(says), "{url}: {why}");
            assert!(
                why.contains("must be an https URL to a public host"),
                "{why}"
            );
            assert!(
                !why.contains("security-credentials") && !why.contains("secret"),
                "{why}"
            );
        }
    }

    #[test]
    fn public_means_no_private_loopback_link_local_or_reserved_range() {
        for ip in ["8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
