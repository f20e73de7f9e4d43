//! `opm config set|show`: configuration values of an opkg (SPEC §1.8). The
//! form defaults come from the configurator.html of the imported source;
//! values set here override them at run-configurator.

use std::collections::BTreeMap;
use std::path::Path;

use opm_model::Name;
use opm_opkg::{Configurator, Field};
use opm_store::{AnyStore, Change, OpenMode, Store};
use serde::Serialize;

use crate::cli::ConfigCommand;
use crate::commands::state::{apply, block_on};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};

/// Runs `opm config ...`.
pub fn run(command: ConfigCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        ConfigCommand::Set {
            package,
            values,
            image,
        } => {
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
        ConfigCommand::Show { package, image } => {
            let view = block_on(async {
                let store = settings.open_store(OpenMode::Existing).await?;
                let outcome = show(&store, &package, image.as_ref()).await;
                store.close().await;
                outcome
            })?;
            print_view(&view, printer)?;
            Ok(Exit::Success)
        }
    }
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

/// The form fields of an imported opkg, when its source still has a
/// configurator.html; `None` when it has none or it cannot be read.
async fn fields(store: &AnyStore, package: &Name) -> anyhow::Result<(String, Option<Vec<Field>>)> {
    let opkgs = store.opkgs().await.map_err(store_error)?;
    let opkg = opkgs
        .into_iter()
        .find(|o| &o.import.name == package)
        .ok_or_else(|| {
            bad_input(format!(
                "unknown opkg '{package}'; import it first with 'opm opkg import'"
            ))
        })?;
    let form = Path::new(&opkg.import.source).join("configurator.html");
    let fields = form
        .is_file()
        .then(|| Configurator::from_path(&form).ok())
        .flatten();
    Ok((opkg.import.source, fields))
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

/// One configuration value as `config show` prints it.
#[derive(Serialize)]
struct ValueEntry {
    name: String,
    /// What the form submits untouched (several for checkbox groups).
    default: Vec<String>,
    /// What was set with `opm config set`, if anything.
    set: Option<String>,
    /// What scripts get: the set value, else the defaults joined by ','.
    value: String,
}

#[derive(Serialize)]
struct ConfigView {
    package: String,
    image: Option<String>,
    values: Vec<ValueEntry>,
}

async fn show(
    store: &AnyStore,
    package: &Name,
    image: Option<&Name>,
) -> anyhow::Result<ConfigView> {
    let (_, form) = fields(store, package).await?;
    let set: BTreeMap<String, String> = store
        .config_values(package, image)
        .await
        .map_err(store_error)?
        .into_iter()
        .collect();
    let mut values: Vec<ValueEntry> = form
        .unwrap_or_default()
        .into_iter()
        .map(|field| {
            let chosen = set.get(&field.name).cloned();
            ValueEntry {
                value: chosen.clone().unwrap_or_else(|| field.defaults.join(",")),
                name: field.name,
                default: field.defaults,
                set: chosen,
            }
        })
        .collect();
    for (name, value) in &set {
        if !values.iter().any(|v| &v.name == name) {
            values.push(ValueEntry {
                name: name.clone(),
                default: Vec::new(),
                set: Some(value.clone()),
                value: value.clone(),
            });
        }
    }
    Ok(ConfigView {
        package: package.to_string(),
        image: image.map(Name::to_string),
        values,
    })
}

fn print_view(view: &ConfigView, printer: Printer) -> anyhow::Result<()> {
    if printer.json() {
        return printer.print_json(view);
    }
    printer.table(
        &["name", "value", "default", "origin"],
        view.values
            .iter()
            .map(|v| {
                vec![
                    v.name.clone(),
                    v.value.clone(),
                    v.default.join(","),
                    if v.set.is_some() { "set" } else { "default" }.to_owned(),
                ]
            })
            .collect(),
        &format!("{} has no configuration values", view.package),
    );
    Ok(())
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
