//! Request templates for HTTP side-load: text with `{{placeholder}}`s (double braces, so JSON
//! bodies need no escaping), checked when the scenario loads and filled per request.

use std::fmt::Write;

/// What a template may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// The provider's name for the room of the load's group.
    Room,
    /// The virtual user's number, from 1.
    User,
    /// This request's number within its load, from 1.
    Seq,
    /// A value read from the environment when the run starts (tokens: never written out).
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Hole(Placeholder),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

/// What a request's placeholders are filled with.
pub struct Fill<'a> {
    pub room: &'a str,
    pub user: usize,
    pub seq: u64,
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "\"{{{{\" at byte {} is never closed",
                    text.len() - rest.len() + open
                )
            })?;
            let name = after[..close].trim();
            let hole = match name {
                "room" => Placeholder::Room,
                "user" => Placeholder::User,
                "seq" => Placeholder::Seq,
                _ => match name.strip_prefix("env:") {
                    Some(var) if !var.is_empty() => Placeholder::Env(var.to_string()),
                    _ => {
                        return Err(format!(
                            "unknown placeholder {{{{{name}}}}}; known: {{{{room}}}}, {{{{user}}}}, {{{{seq}}}}, {{{{env:NAME}}}}"
                        ))
                    }
                },
            };
            parts.push(Part::Hole(hole));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// Environment variables the template reads.
    pub fn env_vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Hole(Placeholder::Env(v)) => Some(v.as_str()),
            _ => None,
        })
    }

    pub fn uses(&self, p: &Placeholder) -> bool {
        self.parts.iter().any(|part| part == &Part::Hole(p.clone()))
    }

    pub fn render(&self, fill: &Fill) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Hole(Placeholder::Room) => out.push_str(fill.room),
                Part::Hole(Placeholder::User) => {
                    let _ = write!(out, "{}", fill.user);
                }
                Part::Hole(Placeholder::Seq) => {
                    let _ = write!(out, "{}", fill.seq);
                }
                Part::Hole(Placeholder::Env(v)) => out.push_str(&(fill.env)(v).unwrap_or_default()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Fill<'_> {
        Fill {
            room: "sale-1",
            user: 7,
            seq: 42,
            env,
        }
    }

    #[test]
    fn fills_every_placeholder_and_leaves_json_braces_alone() {
        let t = Template::parse(r#"{"user":"u{{user}}","n":{{ seq }},"room":"{{room}}"}"#).unwrap();
        let none = |_: &str| None;
        assert_eq!(
            t.render(&fill(&none)),
            r#"{"user":"u7","n":42,"room":"sale-1"}"#
        );
        let token = Template::parse("Bearer {{env:SHOP_TOKEN}}").unwrap();
        assert_eq!(token.env_vars().collect::<Vec<_>>(), ["SHOP_TOKEN"]);
        let env = |v: &str| (v == "SHOP_TOKEN").then(|| "s3cret".to_string());
        assert_eq!(token.render(&fill(&env)), "Bearer s3cret");
    }

    #[test]
    fn refuses_unknown_or_unclosed_placeholders() {
        let e = Template::parse("/rooms/{{rom}}/likes").unwrap_err();
        assert!(e.contains("unknown placeholder {{rom}}"), "{e}");
        let e = Template::parse("/rooms/{{room").unwrap_err();
        assert!(e.contains("never closed"), "{e}");
        assert!(Template::parse("{{env:}}").is_err());
    }
}
