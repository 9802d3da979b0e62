//! `${NAME}` in string values, read from the environment: how secrets stay out
//! of the file. A missing variable is an error, never an empty string.

/// Replaces `${NAME}` with the environment variable's value.
pub fn interpolate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("`${` without a closing `}`".into());
        };
        let name = &after[..end];
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(format!("`${{{name}}}` is not a valid environment variable name"));
        }
        match env(name) {
            Some(value) => out.push_str(&value),
            None => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation() {
        let env = |n: &str| (n == "SECRET").then(|| "s3".to_string());
        assert_eq!(interpolate("a-${SECRET}-b", &env).unwrap(), "a-s3-b");
        assert_eq!(interpolate("plain", &env).unwrap(), "plain");
        assert!(interpolate("${MISSING}", &env).unwrap_err().contains("MISSING"));
        assert!(interpolate("${unclosed", &env).is_err());
        assert!(interpolate("${1BAD}", &env).is_err());
    }
}
