//! `opm config show`: an opkg's configuration: its configurator defaults
//! and the values set, opkg-wide or as one image sees them.

use std::collections::BTreeMap;

use opm_model::Name;
use opm_store::{AnyStore, OpenMode, Store};
use serde::Serialize;

use super::fields;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

/// Runs `opm config show`.
pub fn run(
    package: Name,
    image: Option<Name>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let view = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = show(&store, &package, image.as_ref()).await;
        store.close().await;
        outcome
    })?;
    print_view(&view, printer)?;
    Ok(Exit::Success)
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
