//! A database URL as shown to people: every password left out. The one
//! redaction function for messages, `opm settings` and logs alike.

/// `url` with the password of its user part and the value of every
/// password parameter of its query (`?password=…`, `&sslpassword=…`)
/// replaced by `***`; anything else as given.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (url, None),
    };
    let mut shown = redact_user(address);
    if let Some(query) = query {
        shown.push('?');
        let parameters: Vec<String> = query.split('&').map(redact_parameter).collect();
        shown.push_str(&parameters.join("&"));
    }
    shown
}

/// `scheme://user:password@host/…` with the password replaced.
fn redact_user(address: &str) -> String {
    let Some((scheme, rest)) = address.split_once("://") else {
        return address.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // The last `@` ends the user part: a password may hold an `@` itself.
    match authority
        .rsplit_once('@')
        .and_then(|(user, host)| Some((user.split_once(':')?.0, host)))
    {
        Some((name, host)) => format!("{scheme}://{name}:***@{host}{tail}"),
        None => address.to_owned(),
    }
}

/// One `key=value` of a query, its value replaced when the key names a
/// password.
fn redact_parameter(parameter: &str) -> String {
    match parameter.split_once('=') {
        Some((key, _)) if key.to_ascii_lowercase().contains("password") => format!("{key}=***"),
        _ => parameter.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn every_password_is_left_out_and_nothing_else() {
        let cases = [
            (
                "postgres://opm:secret@db.example:5432/opm",
                "postgres://opm:***@db.example:5432/opm",
            ),
            ("postgres://opm:p@ss@db/opm", "postgres://opm:***@db/opm"),
            ("postgres://127.0.0.1/opm", "postgres://127.0.0.1/opm"),
            (
                "postgres://opm@127.0.0.1/opm",
                "postgres://opm@127.0.0.1/opm",
            ),
            (
                "postgres://opm@db/opm?password=secret",
                "postgres://opm@db/opm?password=***",
            ),
            (
                "postgresql://db/opm?user=opm&password=secret&sslmode=disable",
                "postgresql://db/opm?user=opm&password=***&sslmode=disable",
            ),
            (
                "postgres://opm:a@db/opm?sslpassword=k&PASSWORD=b",
                "postgres://opm:***@db/opm?sslpassword=***&PASSWORD=***",
            ),
            ("postgres//db?password=x", "postgres//db?password=***"),
            ("sqlite:/var/lib/opm/opm.db", "sqlite:/var/lib/opm/opm.db"),
            ("not a url", "not a url"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
            assert!(!redact_url(url).contains("secret"), "{url}");
        }
    }
}
