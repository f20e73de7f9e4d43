//! `opm config set`: configuration values of an opkg (SPEC §1.8), for
//! every target or one image; they override the configurator.html
//! defaults at run-configurator.

use std::collections::BTreeMap;

use opm_model::Name;
use opm_store::{AnyStore, Change, OpenMode, Store};

use super::fields;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::{apply, block_on};

/// Runs `opm config set`.
pub fn run(
    package: Name,
    values: &[String],
    image: Option<Name>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let pairs = values
        .iter()
        .map(|raw| parse_assignment(raw))
        .collect::<anyhow::Result<Vec<_>>>()?;
    block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = set(&store, &package, image.as_ref(), &pairs).await;
        store.close().await;
        outcome
    })?;
    if printer.json() {
        let values: BTreeMap<&str, &str> = pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        printer.print_json(&serde_json::json!({
            "package": package,
            "image": image,
            "set": values,
        }))?;
    } else {
        let scope = image
            .as_ref()
            .map_or_else(|| "every target".to_owned(), |i| format!("image {i}"));
        for (name, value) in &pairs {
            printer.line(format_args!("{package}: {name}={value} ({scope})"));
        }
    }
    Ok(Exit::Success)
}

/// `NAME=VALUE`, with a name a script's environment can carry.
fn parse_assignment(raw: &str) -> anyhow::Result<(String, String)> {
    let Some((name, value)) = raw.split_once('=') else {
        return Err(bad_input(format!(
            "'{raw}' is not NAME=VALUE; write for example nodes=4"
        )));
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(bad_input(format!(
            "configuration name '{name}' must start with a letter or '_' and hold only \
             letters, digits, '_', '-' and '.'"
        )));
    }
    if value.contains('\0') {
        return Err(bad_input(format!(
            "the value of '{name}' contains a NUL byte, which no script can receive"
        )));
    }
    Ok((name.to_owned(), value.to_owned()))
}

async fn set(
    store: &AnyStore,
    package: &Name,
    image: Option<&Name>,
    pairs: &[(String, String)],
) -> anyhow::Result<()> {
    let (_, form) = fields(store, package).await?;
    if let Some(form) = &form {
        for (name, _) in pairs {
            if !form.iter().any(|f| &f.name == name) {
                let known: Vec<&str> = form.iter().map(|f| f.name.as_str()).collect();
                return Err(bad_input(format!(
                    "{package}'s configurator.html has no field '{name}'; its fields are: {}",
                    known.join(", ")
                )));
            }
        }
    }
    if let Some(image) = image {
        let images = store.images().await.map_err(store_error)?;
        if !images.iter().any(|i| &i.name == image) {
            return Err(bad_input(format!(
                "unknown image '{image}'; see 'opm image list'"
            )));
        }
    }
    let changes = pairs
        .iter()
        .map(|(name, value)| Change::Config {
            opkg: package.clone(),
            image: image.cloned(),
            key: name.clone(),
            value: value.clone(),
        })
        .collect();
    apply(store, changes).await
}

#[cfg(test)]
mod tests {
    use super::parse_assignment;
    use crate::exit::BadInput;

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
            assert!(error.downcast_ref::<BadInput>().is_some(), "{raw}");
        }
    }
}
