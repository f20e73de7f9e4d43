//! `opm config set|show`: configuration values of an opkg (SPEC §1.8).
//! The form's defaults come from the configurator.html of the imported
//! source (on the head node); values set here override them at
//! run-configurator.

use std::collections::BTreeMap;
use std::path::Path;

use opm_model::Name;
use opm_model::api::{ConfigQuery, ConfigSet, ConfigSetBody, ConfigValue, ConfigView};
use opm_opkg::{Configurator, Field};
use opm_store::{AuditAction, Change, Store};

use super::audit::{Asked, config_subject};
use super::hint::hinted;
use super::{OperateError, Result};

/// `NAME=VALUE`, with a name a script's environment can carry.
///
/// # Errors
/// [`OperateError::BadInput`] saying what is wrong.
pub fn parse_assignment(raw: &str) -> Result<(String, String)> {
    let bad = |message: String| Err(OperateError::BadInput(message));
    let Some((name, value)) = raw.split_once('=') else {
        return bad(format!(
            "'{raw}' is not NAME=VALUE; write for example nodes=4"
        ));
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return bad(format!(
            "configuration name '{name}' must start with a letter or '_' and hold only \
             letters, digits, '_', '-' and '.'"
        ));
    }
    if value.contains('\0') {
        return bad(format!(
            "the value of '{name}' contains a NUL byte, which no script can receive"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// The form fields of an imported opkg, when its source still has a
/// configurator.html; `None` when it has none or it cannot be read.
async fn fields<S: Store>(store: &S, package: &Name) -> Result<Option<Vec<Field>>> {
    let opkg = store
        .opkgs()
        .await?
        .into_iter()
        .find(|o| &o.import.name == package)
        .ok_or_else(|| {
            OperateError::BadInput(format!(
                "unknown opkg '{package}'; import it first with 'opm opkg import'"
            ))
        })?;
    let form = Path::new(&opkg.import.source).join("configurator.html");
    Ok(form
        .is_file()
        .then(|| Configurator::from_path(&form).ok())
        .flatten())
}

/// `opm config set` (`PUT /v1/config`): every value checked (its form has
/// the field, the image exists) before any is written.
///
/// # Errors
/// A malformed assignment, an unknown field, opkg or image, or the
/// store's failure.
pub async fn config_set<S: Store>(
    store: &S,
    body: &ConfigSetBody,
    asked: &Asked,
) -> Result<ConfigSet> {
    hinted(store, config_set_unhinted(store, body, asked).await).await
}

/// [`config_set`] before an unknown name's hint.
async fn config_set_unhinted<S: Store>(
    store: &S,
    body: &ConfigSetBody,
    asked: &Asked,
) -> Result<ConfigSet> {
    let pairs = body
        .values
        .iter()
        .map(|raw| parse_assignment(raw))
        .collect::<Result<Vec<_>>>()?;
    let package = &body.package;
    if let Some(form) = fields(store, package).await? {
        for (name, _) in &pairs {
            if !form.iter().any(|f| &f.name == name) {
                let known: Vec<&str> = form.iter().map(|f| f.name.as_str()).collect();
                return Err(OperateError::BadInput(format!(
                    "{package}'s configurator.html has no field '{name}'; its fields are: {}",
                    known.join(", ")
                )));
            }
        }
    }
    if let Some(image) = &body.image
        && !store.images().await?.iter().any(|i| &i.name == image)
    {
        return Err(OperateError::BadInput(format!(
            "unknown image '{image}'; see 'opm image list'"
        )));
    }
    let changes = pairs
        .iter()
        .map(|(name, value)| Change::Config {
            opkg: package.clone(),
            image: body.image.clone(),
            key: name.clone(),
            value: value.clone(),
        })
        .collect::<Vec<_>>();
    asked
        .apply(store, changes, AuditAction::ConfigSet, config_subject(body))
        .await?;
    Ok(ConfigSet {
        package: package.clone(),
        image: body.image.clone(),
        set: pairs.into_iter().collect(),
    })
}

/// `opm config show` (`GET /v1/config`): the form's fields with their
/// defaults and what was set, then values set for no field of the form.
///
/// # Errors
/// An unknown opkg, or the store's failure.
pub async fn config_show<S: Store>(store: &S, query: &ConfigQuery) -> Result<ConfigView> {
    hinted(store, config_show_unhinted(store, query).await).await
}

/// [`config_show`] before an unknown name's hint.
async fn config_show_unhinted<S: Store>(store: &S, query: &ConfigQuery) -> Result<ConfigView> {
    let package = &query.package;
    let form = fields(store, package).await?;
    let set: BTreeMap<String, String> = store
        .config_values(package, query.image.as_ref())
        .await?
        .into_iter()
        .collect();
    let mut values: Vec<ConfigValue> = form
        .unwrap_or_default()
        .into_iter()
        .map(|field| {
            let chosen = set.get(&field.name).cloned();
            ConfigValue {
                value: chosen.clone().unwrap_or_else(|| field.defaults.join(",")),
                name: field.name,
                default: field.defaults,
                set: chosen,
            }
        })
        .collect();
    for (name, value) in &set {
        if !values.iter().any(|v| &v.name == name) {
            values.push(ConfigValue {
                name: name.clone(),
                default: Vec::new(),
                set: Some(value.clone()),
                value: value.clone(),
            });
        }
    }
    Ok(ConfigView {
        package: package.to_string(),
        image: query.image.as_ref().map(Name::to_string),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::{OperateError, parse_assignment};

    #[test]
    fn assignments_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_assignment("nodes=4").unwrap(),
            ("nodes".to_owned(), "4".to_owned())
        );
        assert_eq!(
            parse_assignment("opts=a=b").unwrap(),
            ("opts".to_owned(), "a=b".to_owned())
        );
        assert_eq!(
            parse_assignment("empty=").unwrap(),
            ("empty".to_owned(), String::new())
        );
    }

    #[test]
    fn bad_assignments_are_bad_input() {
        for raw in ["nodes", "=4", "1x=4", "a b=4", "x=\0"] {
            let error = parse_assignment(raw).unwrap_err();
            assert!(matches!(error, OperateError::BadInput(_)), "{raw}");
        }
    }
}
