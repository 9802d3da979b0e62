//! The guide's SQL is SQLite's; the kit runs it on PostgreSQL too. This turns
//! the few SQLite-only forms the guide and the kit use into PostgreSQL's, and
//! shows PostgreSQL's answers the way SQLite's are shown (`Integer(1)`,
//! `Text("...")`), so one feature file serves both backends.

/// SQLite's `datetime('now'[, 'modifier'])`, `julianday(a) - julianday(b)` and
/// integer flags, as PostgreSQL writes them.
pub fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 32);
    let mut rest = sql;
    while let Some(start) = rest.find("datetime('now'") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "datetime('now'".len()..];
        let Some(end) = after.find(')') else {
            out.push_str(&rest[start..]);
            return flags(&julianday(&out));
        };
        let modifier = after[..end].trim().trim_start_matches(',').trim().trim_matches('\'');
        if modifier.is_empty() {
            out.push_str("(now() AT TIME ZONE 'UTC')");
        } else {
            out.push_str(&format!("(now() AT TIME ZONE 'UTC' + interval '{modifier}')"));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    flags(&julianday(&out))
}

/// `(julianday(a) - julianday(b))`: days between two timestamps.
fn julianday(sql: &str) -> String {
    let mut out = sql.to_string();
    while let Some(start) = out.find("(julianday(") {
        let Some(minus) = out[start..].find(") - julianday(").map(|i| start + i) else { break };
        let Some(close) = out[minus + ") - julianday(".len()..].find("))").map(|i| minus + ") - julianday(".len() + i)
        else {
            break;
        };
        let a = &out[start + "(julianday(".len()..minus];
        let b = &out[minus + ") - julianday(".len()..close];
        let replaced = format!("(EXTRACT(EPOCH FROM ({a} - {b})) / 86400.0)");
        out = format!("{}{replaced}{}", &out[..start], &out[close + 2..]);
    }
    out
}

/// `is_active = 1`, `is_authenticated = 0`: PostgreSQL's columns are BOOLEAN.
fn flags(sql: &str) -> String {
    let mut out = sql.to_string();
    for column in ["is_active", "is_authenticated"] {
        for (from, to) in [("1", "TRUE"), ("0", "FALSE")] {
            out = out.replace(&format!("{column} = {from}"), &format!("{column} = {to}"));
        }
    }
    out
}

/// One value of `psql -At` as SQLite's debug form: integers as `Integer(n)`,
/// booleans as SQLite stores them, an empty field as `Null`, the rest as text.
pub fn sqlite_value(field: &str) -> String {
    if field.is_empty() {
        return "Null".into();
    }
    if let Ok(n) = field.parse::<i64>() {
        return format!("Integer({n})");
    }
    match field {
        "t" => "Integer(1)".into(),
        "f" => "Integer(0)".into(),
        // PostgreSQL shows timestamps with a fraction only when there is one.
        _ => format!("Text({field:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_sqlite_forms_become_postgres() {
        assert_eq!(
            to_postgres("UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')"),
            "UPDATE agent_tokens SET auth_expires_at = (now() AT TIME ZONE 'UTC' + interval '-1 minute')"
        );
        assert_eq!(
            to_postgres("SELECT 1 WHERE blocked_until > datetime('now') AND is_active = 1"),
            "SELECT 1 WHERE blocked_until > (now() AT TIME ZONE 'UTC') AND is_active = TRUE"
        );
        assert_eq!(
            to_postgres(
                "SELECT CAST(ROUND((julianday(auth_expires_at) - julianday(created_at)) * 24) AS INTEGER) FROM t"
            ),
            "SELECT CAST(ROUND((EXTRACT(EPOCH FROM (auth_expires_at - created_at)) / 86400.0) * 24) AS INTEGER) FROM t"
        );
        assert_eq!(sqlite_value("3"), "Integer(3)");
        assert_eq!(sqlite_value("t"), "Integer(1)");
        assert_eq!(sqlite_value("a@b.c"), "Text(\"a@b.c\")");
    }
}
