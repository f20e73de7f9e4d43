//! configurator.html: the form whose inputs carry an opkg's configuration
//! defaults (SPEC §1.8).
//!
//! Real forms are sloppy HTML (unquoted attributes, `</input>` closers,
//! `<h1>` inside `<p>`), so they are read with an HTML5 parser, which
//! repairs them the way a browser does. Defaults follow what a browser
//! would submit untouched: a text field its value, a checkbox or radio its
//! checked value(s), a select its selected option(s) (a single select with
//! none selected submits its first option).

use std::path::Path;

use scraper::{ElementRef, Html};
use serde::Serialize;

use crate::error::ConfiguratorError;

/// What kind of input a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    /// `<input type=text>` and any type not listed here (number, email, ...).
    Text,
    /// `<input type=password>`.
    Password,
    /// `<input type=hidden>`.
    Hidden,
    /// `<textarea>`.
    Textarea,
    /// `<input type=checkbox>`, one or more with the same name.
    Checkbox,
    /// `<input type=radio>` buttons sharing a name.
    Radio,
    /// `<select>`.
    Select,
    /// `<select multiple>`.
    MultiSelect,
}

/// One named input of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// The input's `name`.
    pub name: String,
    /// Its kind.
    pub kind: FieldKind,
    /// The value(s) the form submits untouched; empty for an unchecked
    /// checkbox or a radio group with nothing checked.
    pub defaults: Vec<String>,
    /// The values a checkbox, radio group or select offers, in page order;
    /// empty for free-text fields.
    pub choices: Vec<String>,
}

/// Reads configurator.html files.
#[derive(Debug, Clone, Copy)]
pub struct Configurator;

impl Configurator {
    /// The named inputs of `html`, in page order; inputs sharing a name
    /// (radio groups, checkbox groups) make one field. Buttons (`reset`,
    /// `submit`, `button`, `image`) and `file` inputs are not fields.
    pub fn parse(html: &str) -> Vec<Field> {
        let document = Html::parse_document(html);
        let mut fields: Vec<Field> = Vec::new();
        for element in document.root_element().descendent_elements() {
            let Some(field) = field_of(element) else {
                continue;
            };
            match fields.iter_mut().find(|f| f.name == field.name) {
                Some(existing) => {
                    existing.defaults.extend(field.defaults);
                    existing.choices.extend(field.choices);
                }
                None => fields.push(field),
            }
        }
        fields
    }

    /// Reads and parses the configurator.html at `path`: UTF-8 when the
    /// bytes are UTF-8, else Windows-1252 (what browsers assume).
    pub fn from_path(path: &Path) -> Result<Vec<Field>, ConfiguratorError> {
        let bytes = std::fs::read(path).map_err(|source| ConfiguratorError {
            path: path.to_owned(),
            source,
        })?;
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
        };
        Ok(Configurator::parse(&text))
    }
}

fn field_of(element: ElementRef<'_>) -> Option<Field> {
    let name = element.attr("name")?.to_owned();
    if name.is_empty() {
        return None;
    }
    let field = |kind, defaults, choices| Field {
        name: name.clone(),
        kind,
        defaults,
        choices,
    };
    match element.value().name() {
        "input" => {
            let kind = element
                .attr("type")
                .unwrap_or("text")
                .trim()
                .to_ascii_lowercase();
            let value = element.attr("value").unwrap_or("").to_owned();
            let checked = element.attr("checked").is_some();
            match kind.as_str() {
                "reset" | "submit" | "button" | "image" | "file" => None,
                "checkbox" | "radio" => {
                    // A checkbox without a value submits "on".
                    let value = element.attr("value").unwrap_or("on").to_owned();
                    let defaults = if checked { vec![value.clone()] } else { vec![] };
                    let kind = if kind == "radio" {
                        FieldKind::Radio
                    } else {
                        FieldKind::Checkbox
                    };
                    Some(field(kind, defaults, vec![value]))
                }
                "password" => Some(field(FieldKind::Password, vec![value], vec![])),
                "hidden" => Some(field(FieldKind::Hidden, vec![value], vec![])),
                _ => Some(field(FieldKind::Text, vec![value], vec![])),
            }
        }
        "textarea" => {
            let text: String = element.text().collect();
            Some(field(FieldKind::Textarea, vec![text], vec![]))
        }
        "select" => {
            let multiple = element.attr("multiple").is_some();
            let options: Vec<(String, bool)> = element
                .descendent_elements()
                .filter(|e| e.value().name() == "option")
                .map(|option| {
                    let value = match option.attr("value") {
                        Some(value) => value.to_owned(),
                        None => collapse(&option.text().collect::<String>()),
                    };
                    (value, option.attr("selected").is_some())
                })
                .collect();
            let mut defaults: Vec<String> = options
                .iter()
                .filter(|(_, selected)| *selected)
                .map(|(value, _)| value.clone())
                .collect();
            if !multiple {
                // A single select submits its last selected option, or its
                // first option when none is selected.
                defaults = match defaults.pop() {
                    Some(last) => vec![last],
                    None => options
                        .first()
                        .map(|(v, _)| v.clone())
                        .into_iter()
                        .collect(),
                };
            }
            let kind = if multiple {
                FieldKind::MultiSelect
            } else {
                FieldKind::Select
            };
            let choices = options.into_iter().map(|(value, _)| value).collect();
            Some(field(kind, defaults, choices))
        }
        _ => None,
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(html: &str) -> Field {
        let fields = Configurator::parse(html);
        assert_eq!(fields.len(), 1, "{fields:#?}");
        fields.into_iter().next().unwrap()
    }

    #[test]
    fn text_inputs_default_to_their_value() {
        let field = one("<form><input name=num value=4></form>");
        assert_eq!(field.kind, FieldKind::Text);
        assert_eq!(field.defaults, ["4"]);
        assert_eq!(one("<input name=x>").defaults, [""]);
        assert_eq!(
            one("<input type=number name=x value=3>").kind,
            FieldKind::Text
        );
        assert_eq!(
            one("<input type=PASSWORD name=x value=s>").kind,
            FieldKind::Password
        );
        assert_eq!(one("<input type=hidden name=x value=h>").defaults, ["h"]);
    }

    #[test]
    fn checkboxes_default_to_their_value_only_when_checked() {
        let unchecked = one("<input type=checkbox name=c value=YES>Run</input>");
        assert_eq!(unchecked.kind, FieldKind::Checkbox);
        assert!(unchecked.defaults.is_empty());
        assert_eq!(unchecked.choices, ["YES"]);
        assert_eq!(one("<input type=checkbox name=c checked>").defaults, ["on"]);
        let group = one(
            "<input type=checkbox name=c value=a checked><input type=checkbox name=c value=b><input type=checkbox name=c value=d checked>",
        );
        assert_eq!(group.defaults, ["a", "d"]);
        assert_eq!(group.choices, ["a", "b", "d"]);
    }

    #[test]
    fn radio_groups_default_to_the_checked_button() {
        let field = one(
            "<p><input type=\"radio\" name=\"m\" value=\"postfix\" checked=\"checked\">postfix</input><br/><input type=radio name=m value=exim></p>",
        );
        assert_eq!(field.kind, FieldKind::Radio);
        assert_eq!(field.defaults, ["postfix"]);
        assert_eq!(field.choices, ["postfix", "exim"]);
        let none = one("<input type=radio name=m value=a><input type=radio name=m value=b>");
        assert!(none.defaults.is_empty());
    }

    #[test]
    fn selects_default_like_a_browser() {
        let plain = one("<select name=s><option>one<option value=2>two</select>");
        assert_eq!(plain.kind, FieldKind::Select);
        assert_eq!(plain.defaults, ["one"]);
        assert_eq!(plain.choices, ["one", "2"]);
        let chosen =
            one("<select name=s><option>a</option><option selected>  b  c </option></select>");
        assert_eq!(chosen.defaults, ["b c"]);
        let multi = one(
            "<select name=s multiple><option selected>a<option>b<optgroup><option selected value=c>C</optgroup></select>",
        );
        assert_eq!(multi.kind, FieldKind::MultiSelect);
        assert_eq!(multi.defaults, ["a", "c"]);
        let empty_multi = one("<select name=s multiple><option>a</select>");
        assert!(empty_multi.defaults.is_empty());
        assert!(one("<select name=s></select>").defaults.is_empty());
    }

    #[test]
    fn textareas_default_to_their_text() {
        let field = one("<textarea name=t>\nline one\nline two</textarea>");
        assert_eq!(field.kind, FieldKind::Textarea);
        assert_eq!(field.defaults, ["line one\nline two"]);
    }

    #[test]
    fn buttons_and_nameless_inputs_are_not_fields() {
        let fields = Configurator::parse(
            "<form><input type=reset value='Reset Form' /><input type=submit name=go><input value=x><input name='' value=y><input type=file name=f></form>",
        );
        assert!(fields.is_empty(), "{fields:#?}");
    }
}
