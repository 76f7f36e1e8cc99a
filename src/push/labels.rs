//! The series a pushed profile belongs to: the application name and labels of Pyroscope's
//! `/ingest?name=app{k=v,…}` parameter, validated at startup by the rules Pyroscope's own parser
//! applies (grafana/pyroscope `api/model/labelset/validate.go`, `labelset.go`), so a bad
//! `--app-name` or `--label` is an error before recording starts instead of a rejected push
//! every interval.

use std::fmt::Write as _;

use super::template::LabelTemplate;
use crate::profile::cgroup::Workload;
use crate::profile::SampleOwner;

/// Longest application name or label value accepted. Pyroscope's own limits are per tenant
/// (label value length defaults to 2048); this keeps a typo such as a pasted file from
/// becoming part of every request.
pub const MAX_VALUE_LEN: usize = 1024;

/// True for a character Pyroscope allows in a label name: `[A-Za-z0-9_.]`.
fn is_label_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// True for a character Pyroscope allows in an application (service) name: a label name
/// character, `-` or `/`.
fn is_app_name_char(c: char) -> bool {
    is_label_name_char(c) || c == '-' || c == '/'
}

/// Checks an application name (`--app-name`): 1 to [`MAX_VALUE_LEN`] characters of
/// `[A-Za-z0-9_.-/]`, Pyroscope's service-name rule.
pub fn validate_app_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the application name is empty".to_string());
    }
    if name.len() > MAX_VALUE_LEN {
        return Err(format!("the application name is longer than {MAX_VALUE_LEN} bytes"));
    }
    if let Some(c) = name.chars().find(|&c| !is_app_name_char(c)) {
        return Err(format!(
            "`{name}`: character {c:?} is not allowed in an application name (use letters, digits, `_`, `.`, `-`, `/`)"
        ));
    }
    Ok(())
}

/// An application name made from a process name (comm): characters Pyroscope does not allow
/// become `_`; an empty name becomes `prof`.
pub fn app_name_from(comm: &str) -> String {
    let name: String = comm.trim().chars().map(|c| if is_app_name_char(c) { c } else { '_' }).collect();
    if name.is_empty() {
        "prof".to_string()
    } else {
        name.chars().take(MAX_VALUE_LEN).collect()
    }
}

/// Parses one `--label NAME=VALUE`. The name follows Pyroscope's label-name rule
/// (`[A-Za-z0-9_.]+`, not starting with `__`, which Pyroscope reserves and drops on ingestion);
/// the value is non-empty and has no `,` `{` `}` `=` (the separators of the `name` parameter,
/// which has no escaping) except in placeholders (`{container}`, see [`LabelTemplate`]), no
/// control characters, and no surrounding spaces (Pyroscope trims them).
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err(format!("`{s}`: expected NAME=VALUE, e.g. env=prod"));
    };
    if name.is_empty() {
        return Err(format!("`{s}`: the label name is empty"));
    }
    if let Some(c) = name.chars().find(|&c| !is_label_name_char(c)) {
        return Err(format!(
            "`{s}`: character {c:?} is not allowed in a label name (use letters, digits, `_` and `.`)"
        ));
    }
    if name.starts_with("__") {
        return Err(format!("`{s}`: label names starting with `__` are reserved by Pyroscope"));
    }
    if value.is_empty() {
        return Err(format!("`{s}`: the label value is empty"));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(format!("`{s}`: the label value is longer than {MAX_VALUE_LEN} bytes"));
    }
    LabelTemplate::parse(value).map_err(|e| format!("`{s}`: {e}"))?;
    if value.trim() != value {
        return Err(format!("`{s}`: the label value starts or ends with a space"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// A validated application name and label set. Label values may hold placeholders
/// ([`LabelTemplate`]): such a series is resolved per sample ([`Series::resolve`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    app: String,
    /// Sorted by name, names unique.
    labels: Vec<(String, String)>,
    /// The parsed value of each label, in the same order.
    templates: Vec<LabelTemplate>,
}

impl Series {
    /// Validates `app` and `labels` (each as [`validate_app_name`] and [`parse_label`] check)
    /// and that no label name is given twice.
    pub fn new(app: &str, labels: &[(String, String)]) -> Result<Series, String> {
        validate_app_name(app)?;
        let mut sorted = Vec::with_capacity(labels.len());
        for (name, value) in labels {
            let (name, value) = parse_label(&format!("{name}={value}"))?;
            sorted.push((name, value));
        }
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("label `{}` is given more than once", w[0].0));
        }
        let templates = sorted.iter().map(|(_, v)| LabelTemplate::parse(v)).collect::<Result<Vec<_>, _>>()?;
        Ok(Series { app: app.to_string(), labels: sorted, templates })
    }

    /// True when a label value holds a placeholder: each sample has its own series.
    pub fn is_templated(&self) -> bool {
        self.templates.iter().any(|t| !t.is_literal())
    }

    /// Each label's value as given, and whether it holds a placeholder, in label order.
    pub fn templated_values(&self) -> impl Iterator<Item = (String, bool)> + '_ {
        self.labels.iter().zip(&self.templates).map(|((_, v), t)| (v.clone(), !t.is_literal()))
    }

    /// The label values of a sample of `owner` (whose cgroup path names `workload`), in label
    /// order: placeholders replaced by the sample's values.
    pub fn resolve(&self, owner: &SampleOwner<'_>, workload: Option<&Workload>) -> Vec<String> {
        self.templates.iter().map(|t| t.render(owner, workload)).collect()
    }

    /// This series with these label values (as [`Series::resolve`] gives them, one per label
    /// in order; values are taken as literal text).
    pub fn with_values(&self, values: Vec<String>) -> Series {
        let labels: Vec<(String, String)> = self.labels.iter().zip(values).map(|((k, _), v)| (k.clone(), v)).collect();
        let templates = labels.iter().map(|(_, v)| LabelTemplate::literal(v)).collect();
        Series { app: self.app.clone(), labels, templates }
    }

    /// The application name.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// The `name` query parameter, `app{k=v,…}` with labels sorted by name (unencoded), as
    /// Pyroscope's `LabelSet.Normalized` writes it.
    pub fn name_param(&self) -> String {
        let mut s = self.app.clone();
        s.push('{');
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{k}={v}");
        }
        s.push('}');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels follow Pyroscope's label-name rule and keep values parseable in `name=app{…}`.
    #[test]
    fn push_labels_follow_pyroscope_rules() {
        assert_eq!(parse_label("env=prod"), Ok(("env".into(), "prod".into())));
        assert_eq!(parse_label("k8s.pod_name=web-1:a/b"), Ok(("k8s.pod_name".into(), "web-1:a/b".into())));
        for bad in ["env", "=x", "en v=x", "env-x=y", "__name__=x", "__x=y", "env=", "env=a,b", "env=a}", "env=a=b"] {
            assert!(parse_label(bad).is_err(), "{bad} accepted");
        }
        assert!(parse_label("env= a").unwrap_err().contains("space"));
        assert!(parse_label("env=a\nb").is_err());
        assert!(parse_label("é=x").unwrap_err().contains("not allowed in a label name"));
        assert_eq!(parse_label("service_name=web-{container|host}").unwrap().1, "web-{container|host}");
        assert!(parse_label("service_name={contaner}").unwrap_err().contains("`{contaner}` is not a placeholder"));
    }

    /// Application names allow `-` and `/`, nothing else outside label-name characters;
    /// names derived from a comm are sanitized instead of rejected.
    #[test]
    fn push_app_names_are_validated_or_sanitized() {
        assert!(validate_app_name("my-app/web.v2_x").is_ok());
        assert!(validate_app_name("").is_err());
        assert!(validate_app_name("my app").unwrap_err().contains("' '"));
        assert!(validate_app_name("a{b}").is_err());
        assert_eq!(app_name_from("kworker/0:1H"), "kworker/0_1H");
        assert_eq!(app_name_from("python3"), "python3");
        assert_eq!(app_name_from("  "), "prof");
    }

    /// The `name` parameter lists labels sorted by name; duplicate names are refused.
    #[test]
    fn push_series_name_param_is_normalized() {
        let labels = vec![("zone".to_string(), "b".to_string()), ("env".to_string(), "prod".to_string())];
        let s = Series::new("web", &labels).unwrap();
        assert_eq!(s.name_param(), "web{env=prod,zone=b}");
        assert_eq!(Series::new("web", &[]).unwrap().name_param(), "web{}");
        let dup = vec![("env".to_string(), "a".to_string()), ("env".to_string(), "b".to_string())];
        assert!(Series::new("web", &dup).unwrap_err().contains("more than once"));
        assert!(Series::new("bad name", &[]).is_err());
    }
}
