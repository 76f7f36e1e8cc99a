//! Label values taken from each sample: `--label service_name={container}` pushes one host's
//! interval as one profile per container (per unit, cgroup, comm or pod). A value is literal
//! text with placeholders in it (`{container}`, `{unit}`, `{cgroup}`, `{comm}`, `{pod}`), each
//! optionally with the text used when the sample has no such value (`{container|host}`;
//! without it, [`DEFAULT_FALLBACK`]).
//!
//! What a placeholder is replaced with comes from hostile places (comms, cgroup names): it is
//! made into a valid label value ([`sanitize`]), so a resolved series is always one Pyroscope
//! accepts.

use crate::profile::cgroup::Workload;
use crate::profile::SampleOwner;

use super::labels::MAX_VALUE_LEN;

/// What a placeholder without `|FALLBACK` becomes when the sample has no value for it.
pub const DEFAULT_FALLBACK: &str = "unknown";

/// What a placeholder stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `{container}`: the container, `<runtime>:<first 12 digits of the id>`, as `report --by
    /// container` names it.
    Container,
    /// `{unit}`: the innermost systemd unit the cgroup path names.
    Unit,
    /// `{cgroup}`: the cgroup v2 path (`cgroup:<id>` when the path is not known).
    Cgroup,
    /// `{comm}`: the thread's name.
    Comm,
    /// `{pod}`: the Kubernetes pod uid the cgroup path names.
    Pod,
}

/// The placeholders, as written between braces.
pub const FIELDS: [(&str, Field); 5] = [
    ("container", Field::Container),
    ("unit", Field::Unit),
    ("cgroup", Field::Cgroup),
    ("comm", Field::Comm),
    ("pod", Field::Pod),
];

/// One piece of a label value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// Literal text.
    Text(String),
    /// A placeholder and the text used when the sample has no value for it.
    Field(Field, String),
}

/// A label value: literal text, or text with placeholders resolved per sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelTemplate {
    parts: Vec<Part>,
}

/// True for a character a literal label value may not hold: the separators of Pyroscope's
/// `name=app{k=v,…}` (which has no escaping) and control characters.
fn is_forbidden(c: char) -> bool {
    matches!(c, ',' | '{' | '}' | '=') || c.is_control()
}

/// Checks literal text of a value (outside braces, or a fallback).
fn check_text(text: &str, what: &str) -> Result<(), String> {
    match text.chars().find(|&c| is_forbidden(c)) {
        Some(c) => Err(format!("character {c:?} is not allowed in {what}")),
        None => Ok(()),
    }
}

impl LabelTemplate {
    /// Parses a label value. Braces hold a placeholder, `{NAME}` or `{NAME|FALLBACK}`; an
    /// unknown name, an unclosed brace or a forbidden character is an error saying which.
    pub fn parse(value: &str) -> Result<LabelTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = value;
        while let Some(open) = rest.find('{') {
            let (text, after) = (&rest[..open], &rest[open + 1..]);
            check_text(
                text,
                "a label value (placeholders are `{container}`, `{unit}`, `{cgroup}`, `{comm}`, `{pod}`)",
            )?;
            if !text.is_empty() {
                parts.push(Part::Text(text.to_string()));
            }
            let Some(close) = after.find('}') else {
                return Err(format!("`{{{after}`: a `{{` without its `}}`"));
            };
            let inner = &after[..close];
            let (name, fallback) = inner.split_once('|').unwrap_or((inner, DEFAULT_FALLBACK));
            let Some(&(_, field)) = FIELDS.iter().find(|(n, _)| *n == name) else {
                return Err(format!(
                    "`{{{name}}}` is not a placeholder (use `{{container}}`, `{{unit}}`, `{{cgroup}}`, `{{comm}}` or `{{pod}}`)"
                ));
            };
            if fallback.is_empty() {
                return Err(format!("`{{{inner}}}`: the text after `|` is empty"));
            }
            check_text(fallback, &format!("the fallback of `{{{name}}}`"))?;
            if fallback.contains('|') {
                return Err(format!("`{{{inner}}}`: only one `|` is allowed"));
            }
            parts.push(Part::Field(field, fallback.to_string()));
            rest = &after[close + 1..];
        }
        check_text(rest, "a label value")?;
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(LabelTemplate { parts })
    }

    /// A value of literal text only (one [`LabelTemplate::render`] gave).
    pub fn literal(text: &str) -> LabelTemplate {
        LabelTemplate { parts: vec![Part::Text(text.to_string())] }
    }

    /// True when the value has no placeholder (the same for every sample).
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The value for a sample of `owner`, whose cgroup path names `workload`: placeholders
    /// replaced (by [`sanitize`]d values, or their fallback), at most [`MAX_VALUE_LEN`] bytes.
    pub fn render(&self, owner: &SampleOwner<'_>, workload: Option<&Workload>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(field, fallback) => {
                    let value = resolve(*field, owner, workload).map(|v| sanitize(&v)).filter(|v| !v.is_empty());
                    out.push_str(value.as_deref().unwrap_or(fallback));
                }
            }
        }
        truncate(out.trim().to_string())
    }
}

/// A sample's value of `field`, when it has one.
fn resolve(field: Field, owner: &SampleOwner<'_>, workload: Option<&Workload>) -> Option<String> {
    match field {
        Field::Comm => Some(owner.comm.to_string()),
        Field::Cgroup => owner.cgroup.map(|c| c.name()),
        Field::Container => workload?.container.as_ref().map(|c| c.short_name()),
        Field::Unit => workload?.systemd_unit.clone(),
        Field::Pod => workload?.pod_uid.clone(),
    }
}

/// `value` made into a valid label value: forbidden characters (`,` `{` `}` `=` and control
/// characters) become `_`, surrounding spaces go, and it is cut to [`MAX_VALUE_LEN`] bytes.
pub fn sanitize(value: &str) -> String {
    let cleaned: String = value.trim().chars().map(|c| if is_forbidden(c) { '_' } else { c }).collect();
    truncate(cleaned)
}

/// `s` cut to at most [`MAX_VALUE_LEN`] bytes, at a character boundary.
fn truncate(mut s: String) -> String {
    if s.len() > MAX_VALUE_LEN {
        let mut end = MAX_VALUE_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Cgroup;

    const DOCKER: &str = "/system.slice/docker-3f1c0b4a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b.scope";

    fn render(template: &str, comm: &str, cgroup: Option<&Cgroup>) -> String {
        let t = LabelTemplate::parse(template).unwrap();
        let owner = SampleOwner { pid: 1, tid: 1, comm, cgroup };
        let workload = cgroup.map(Cgroup::workload);
        t.render(&owner, workload.as_ref())
    }

    /// Placeholders are replaced by the sample's values, with literal text around them; a
    /// missing value becomes the fallback, `unknown` by default.
    #[test]
    fn push_template_renders_sample_values_and_fallbacks() {
        let docker = Cgroup { id: 7, path: DOCKER.to_string() };
        let nginx = Cgroup { id: 8, path: "/system.slice/nginx.service".to_string() };
        assert_eq!(render("{container}", "x", Some(&docker)), "docker:3f1c0b4a9e8d");
        assert_eq!(render("web-{unit}", "x", Some(&nginx)), "web-nginx.service");
        assert_eq!(render("{cgroup}", "x", Some(&nginx)), "/system.slice/nginx.service");
        assert_eq!(render("{cgroup}", "x", Some(&Cgroup { id: 9, path: String::new() })), "cgroup:9");
        assert_eq!(render("{comm}/{pod}", "python3", Some(&nginx)), "python3/unknown");
        assert_eq!(render("{container|host}", "x", Some(&nginx)), "host");
        assert_eq!(render("{container}", "x", None), "unknown");
        assert_eq!(render("{unit}", "x", None), "unknown");
        assert!(LabelTemplate::parse("{comm}").is_ok_and(|t| !t.is_literal()));
        assert!(LabelTemplate::parse("prod").is_ok_and(|t| t.is_literal()));
    }

    /// Hostile values (comms, cgroup names) become valid label values: no separators, no
    /// control characters, no surrounding spaces, bounded; an empty comm takes the fallback.
    #[test]
    fn push_template_sanitizes_hostile_values() {
        assert_eq!(render("{comm}", "a,b{c}=d\x1b[31m", None), "a_b_c__d_[31m");
        assert_eq!(render("{comm}", "  ", None), "unknown");
        assert_eq!(render("{comm}", " x ", None), "x");
        let long = "é".repeat(MAX_VALUE_LEN);
        let out = render("{comm}", &long, None);
        assert!(out.len() <= MAX_VALUE_LEN && out.chars().all(|c| c == 'é'), "{}", out.len());
    }

    /// Unknown placeholders, unclosed braces and forbidden characters are refused, naming what
    /// is wrong.
    #[test]
    fn push_template_parse_errors_name_the_problem() {
        assert!(LabelTemplate::parse("{containr}").unwrap_err().contains("`{containr}` is not a placeholder"));
        assert!(LabelTemplate::parse("{}").unwrap_err().contains("`{}` is not a placeholder"));
        assert!(LabelTemplate::parse("a{comm").unwrap_err().contains("without its"));
        assert!(LabelTemplate::parse("a}b").unwrap_err().contains("'}'"));
        assert!(LabelTemplate::parse("a,b").unwrap_err().contains("','"));
        assert!(LabelTemplate::parse("{comm|}").unwrap_err().contains("empty"));
        assert!(LabelTemplate::parse("{comm|a=b}").unwrap_err().contains("fallback"));
        assert!(LabelTemplate::parse("{comm|a|b}").unwrap_err().contains("one `|`"));
    }
}
