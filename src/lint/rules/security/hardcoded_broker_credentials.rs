//! CD803 `hardcoded-broker-credentials`: a password in a broker or backend URL literal. The
//! message shows the URL with the password masked; no output ever contains it.

use crate::lint::rules::RuleCx;

const PLACEHOLDERS: &[&str] = &[
    "changeme", "password", "passwd", "secret", "xxx", "****", "example", "pass", "pwd", "redacted",
];

/// Split `scheme://user:password@host...` into (password, redacted URL, host).
pub(crate) fn parse(url: &str) -> Option<(&str, String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let at = rest.rfind('@')?;
    let (userinfo, hostpart) = (&rest[..at], &rest[at + 1..]);
    let (user, password) = userinfo.split_once(':')?;
    if password.is_empty() || userinfo.contains('/') {
        return None;
    }
    let host = hostpart.split(['/', '?', ';']).next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    Some((password, format!("{scheme}://{user}:****@{hostpart}"), host))
}

fn loopback(host: &str) -> bool {
    matches!(host, "localhost" | "::1" | "0.0.0.0" | "") || host.starts_with("127.")
}

fn placeholder(password: &str) -> bool {
    let lower = password.to_ascii_lowercase();
    password.contains('{')
        || password.contains('$')
        || password.contains('<')
        || password.contains("%(")
        || password.contains("%s")
        || PLACEHOLDERS.contains(&lower.as_str())
        || lower.chars().all(|c| c == '*' || c == 'x')
}

pub(crate) fn check(cx: &mut RuleCx<'_>) {
    let project = cx.project;
    for (m, module) in project.modules.iter().enumerate() {
        if module.is_test {
            continue;
        }
        for url in &module.facts.urls {
            let context = url.context.to_ascii_lowercase();
            let relevant = context.contains("broker")
                || context.contains("backend")
                || context.contains("celery");
            if !relevant {
                continue;
            }
            // Failover lists: `amqp://u:p1@h1;amqp://u:p2@h2`, one finding per literal.
            let hit = url
                .value
                .split(';')
                .filter_map(parse)
                .find(|(password, _, host)| {
                    !loopback(host) && !placeholder(password) && *password != "guest"
                });
            let Some((_, redacted, _)) = hit else {
                continue;
            };
            cx.report(m, url.span, &[("url", &redacted)])
                .with_anchor(redacted.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn redacts_password() {
        let (pw, redacted, host) =
            parse("amqp://shop:S3cr3t-pw@rabbit.internal:5672/shop").unwrap();
        assert_eq!(pw, "S3cr3t-pw");
        assert_eq!(redacted, "amqp://shop:****@rabbit.internal:5672/shop");
        assert_eq!(host, "rabbit.internal");
        assert!(!redacted.contains("S3cr3t"));
        assert_eq!(parse("redis://:p%40ss@[::1]:6379/0").unwrap().2, "::1");
        assert!(parse("redis://redis:6379/0").is_none());
    }
}
