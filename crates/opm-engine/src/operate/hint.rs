//! "Did you mean": an operation refused for an opkg, node or image name
//! nobody registered answers with the registered name closest to it. The
//! hint is added where the operations answer, so the local CLI, the remote
//! CLI and the tools' API word it the same.

use opm_model::suggest::{closest, did_you_mean};
use opm_store::Store;

use super::{OperateError, Result};

/// What kind of name an error's text says is unknown, and the name:
/// `unknown opkg 'NAME'`, `unknown node 'NAME'` or `unknown image 'NAME'`.
fn unknown_name(text: &str) -> Option<(&'static str, &str)> {
    ["opkg", "node", "image"].into_iter().find_map(|kind| {
        let lead = format!("unknown {kind} '");
        let rest = &text[text.find(&lead)? + lead.len()..];
        Some((kind, &rest[..rest.find('\'')?]))
    })
}

/// `result`, its refusal worded with the name meant when it names an
/// unknown opkg, node or image close to a registered one. Still bad input
/// (exit 2, HTTP 400), as every unknown-name refusal is.
pub(super) async fn hinted<S: Store, T>(store: &S, result: Result<T>) -> Result<T> {
    let error = match result {
        Ok(value) => return Ok(value),
        Err(error) if !error.is_bad_input() => return Err(error),
        Err(error) => error,
    };
    let text = error.to_string();
    let Some((kind, unknown)) = unknown_name(&text) else {
        return Err(error);
    };
    // A hint is a courtesy: when the names cannot be read, the refusal
    // stands as it was.
    let known: Vec<String> = match kind {
        "opkg" => store.opkgs().await.map(|opkgs| {
            opkgs
                .into_iter()
                .map(|o| o.import.name.to_string())
                .collect()
        }),
        "node" => store
            .nodes()
            .await
            .map(|nodes| nodes.into_iter().map(|n| n.name.to_string()).collect()),
        _ => store
            .images()
            .await
            .map(|images| images.into_iter().map(|i| i.name.to_string()).collect()),
    }
    .unwrap_or_default();
    match closest(unknown, known.iter().map(String::as_str)) {
        Some(meant) => Err(OperateError::BadInput(did_you_mean(&text, unknown, meant))),
        None => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::unknown_name;

    #[test]
    fn the_unknown_name_is_read_from_each_refusals_wording() {
        assert_eq!(
            unknown_name("unknown opkg 'pkk'; import it first with 'opm opkg import'"),
            Some(("opkg", "pkk"))
        );
        assert_eq!(
            unknown_name("unknown node 'n2'; see 'opm node list'"),
            Some(("node", "n2"))
        );
        assert_eq!(
            unknown_name("unknown image 'cmopute'; see 'opm image list'"),
            Some(("image", "cmopute"))
        );
        assert_eq!(unknown_name("slurm conflicts with torque"), None);
        assert_eq!(unknown_name("unknown opkg 'unterminated"), None);
    }
}
