//! A small element tree with byte offsets, built with quick-xml.
//!
//! The schema check needs the whole document (order, counts, positions) and
//! config.xml files are a few kilobytes, so a tree is simpler than a state
//! machine over events. Offsets are bytes into the decoded text.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// An element with its attributes and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    /// The tag name as written (with any prefix).
    pub name: String,
    /// Offset of the `<` that opens the element.
    pub offset: usize,
    /// Attributes, in document order.
    pub attributes: Vec<Attribute>,
    /// Child elements and text, in document order.
    pub children: Vec<Node>,
}

/// An attribute and where its name starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    /// The name as written.
    pub name: String,
    /// The namespace its prefix is bound to in scope (`None` without a
    /// prefix, for `xmlns` declarations and for an unbound prefix).
    pub namespace: Option<String>,
    /// The value, unescaped and normalised as XML 1.0 §3.3.3 says.
    pub value: String,
    /// Offset of the attribute's name.
    pub offset: usize,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A nested element.
    Element(Element),
    /// A run of character data (text, references and CDATA merged).
    Text {
        /// Offset of the run's first character.
        offset: usize,
        /// The text, unescaped.
        text: String,
    },
}

impl Element {
    /// The child elements, skipping text.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text { .. } => None,
        })
    }

    /// The text runs directly inside this element.
    pub fn texts(&self) -> impl Iterator<Item = (usize, &str)> {
        self.children.iter().filter_map(|node| match node {
            Node::Text { offset, text } => Some((*offset, text.as_str())),
            Node::Element(_) => None,
        })
    }

    /// All character data directly inside this element, concatenated.
    pub fn text(&self) -> String {
        self.texts().map(|(_, text)| text).collect()
    }

    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// A well-formedness error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Where the parser stopped.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

fn syntax(offset: usize, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        offset,
        message: message.into(),
    }
}

/// Deepest nesting accepted. opkg.xsd needs five levels; the limit keeps a
/// hostile file from exhausting the stack when the tree is dropped.
pub(crate) const MAX_DEPTH: usize = 256;

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Parses `text` into its root element.
pub(crate) fn parse(text: &str) -> Result<Element, SyntaxError> {
    if let Some((offset, c)) = text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        return Err(syntax(
            offset,
            format!("character {} is not allowed in XML", c.escape_unicode()),
        ));
    }
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let start = position(&reader);
        let event = reader
            .read_event()
            .map_err(|error| syntax(error_position(&reader), error.to_string()))?;
        match event {
            Event::Start(tag) => {
                if root.is_some() {
                    return Err(syntax(
                        start,
                        "a second root element; a document has exactly one",
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(syntax(
                        start,
                        format!("elements nested more than {MAX_DEPTH} deep; opkg.xsd needs 5"),
                    ));
                }
                stack.push(open(&tag, start)?);
            }
            Event::Empty(tag) => {
                let element = open(&tag, start)?;
                if root.is_some() {
                    return Err(syntax(
                        start,
                        "a second root element; a document has exactly one",
                    ));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(syntax(start, "a closing tag without an opening one"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::Text(content) => {
                let piece = content.xml10_content();
                push_text(&mut stack, start, &piece, root.is_some())?;
            }
            Event::CData(content) => {
                let piece = content.xml10_content();
                if stack.is_empty() {
                    return Err(syntax(start, "CDATA outside the root element"));
                }
                push_text(&mut stack, start, &piece, root.is_some())?;
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    match reference.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => c.to_string(),
                        _ => {
                            return Err(syntax(
                                start,
                                format!(
                                    "invalid character reference '&{};'",
                                    reference.xml10_content()
                                ),
                            ));
                        }
                    }
                } else {
                    let name = reference.xml10_content();
                    match predefined(&name) {
                        Some(c) => c.to_string(),
                        None => {
                            return Err(syntax(
                                start,
                                format!(
                                    "unknown entity '&{name};'; only &lt; &gt; &amp; &quot; &apos; and character references are allowed"
                                ),
                            ));
                        }
                    }
                };
                if stack.is_empty() {
                    return Err(syntax(start, "text outside the root element"));
                }
                push_text(&mut stack, start, &resolved, root.is_some())?;
            }
            Event::Decl(_) => {
                if start != 0 {
                    return Err(syntax(
                        start,
                        "the XML declaration must come first in the file",
                    ));
                }
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(syntax(
            text.len(),
            format!("unexpected end of file: <{}> is not closed", open.name),
        ));
    }
    let mut root = root.ok_or_else(|| syntax(text.len(), "no root element"))?;
    resolve_namespaces(&mut root, &mut Vec::new());
    Ok(root)
}

/// Binds attribute prefixes to their namespaces and renames prefixed
/// elements to `{namespace}local`, so that neither can pass for a schema
/// name: opkg.xsd has no target namespace.
fn resolve_namespaces(element: &mut Element, scopes: &mut Vec<(String, String)>) {
    let before = scopes.len();
    for attribute in &element.attributes {
        if let Some(prefix) = attribute.name.strip_prefix("xmlns:") {
            scopes.push((prefix.to_owned(), attribute.value.clone()));
        }
    }
    let lookup = |scopes: &[(String, String)], prefix: &str| {
        scopes
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.clone())
    };
    for attribute in &mut element.attributes {
        if let Some((prefix, _)) = attribute.name.split_once(':')
            && prefix != "xmlns"
        {
            attribute.namespace = lookup(scopes, prefix);
        }
    }
    if let Some((prefix, local)) = element.name.split_once(':')
        && let Some(uri) = lookup(scopes, prefix)
    {
        element.name = format!("{{{uri}}}{local}");
    }
    for child in &mut element.children {
        if let Node::Element(child) = child {
            resolve_namespaces(child, scopes);
        }
    }
    scopes.truncate(before);
}

fn predefined(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

fn push_text(
    stack: &mut [Element],
    offset: usize,
    piece: &str,
    after_root: bool,
) -> Result<(), SyntaxError> {
    let Some(parent) = stack.last_mut() else {
        if piece.trim().is_empty() {
            return Ok(());
        }
        let at = offset + piece.len() - piece.trim_start().len();
        let place = if after_root { "after" } else { "before" };
        return Err(syntax(at, format!("text {place} the root element")));
    };
    if let Some(Node::Text { text, .. }) = parent.children.last_mut() {
        text.push_str(piece);
    } else {
        parent.children.push(Node::Text {
            offset,
            text: piece.to_owned(),
        });
    }
    Ok(())
}

fn open(tag: &BytesStart<'_>, offset: usize) -> Result<Element, SyntaxError> {
    let name = tag.name().as_ref().to_owned();
    let raw: &[u8] = AsRef::<str>::as_ref(tag).as_bytes();
    let mut attributes = Vec::new();
    let mut iter = tag.attributes();
    iter.with_checks(true);
    for attribute in iter {
        let attribute =
            attribute.map_err(|error| syntax(offset, format!("in <{name}>: {error}")))?;
        let key = attribute.key.as_ref().to_owned();
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|error| syntax(offset, format!("in attribute '{key}' of <{name}>: {error}")))?
            .into_owned();
        let raw_value: &str = attribute.value.as_ref();
        if raw_value.contains('<') {
            return Err(syntax(
                offset,
                format!("'<' is not allowed in attribute '{key}' of <{name}>; write &lt;"),
            ));
        }
        let within = find_attribute(raw, key.as_bytes()).unwrap_or(0);
        attributes.push(Attribute {
            name: key,
            namespace: None,
            value,
            offset: offset + 1 + within,
        });
    }
    Ok(Element {
        name,
        offset,
        attributes,
        children: Vec::new(),
    })
}

/// Where attribute `key` starts inside the raw tag content (the bytes after
/// `<`): a whitespace, the key, optional whitespace, then `=`.
fn find_attribute(raw: &[u8], key: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = raw[from..].windows(key.len()).position(|w| w == key) {
        let at = from + found;
        let before_ok = at > 0 && raw[at - 1].is_ascii_whitespace();
        let mut after = at + key.len();
        while after < raw.len() && raw[after].is_ascii_whitespace() {
            after += 1;
        }
        if before_ok && raw.get(after) == Some(&b'=') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

fn error_position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.error_position()).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_with_offsets() {
        let text = "<?xml version=\"1.0\"?>\n<a x=\"1\">\n  <b  y = 'q&amp;r'>t&lt;u<![CDATA[<v>]]></b><c/>\n</a>";
        let root = parse(text).unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(&text[root.offset..root.offset + 2], "<a");
        let children: Vec<_> = root.elements().collect();
        assert_eq!(children.len(), 2);
        let b = children[0];
        assert_eq!(b.text(), "t<u<v>");
        let y = b.attribute("y").unwrap();
        assert_eq!(y.value, "q&r");
        assert_eq!(&text[y.offset..y.offset + 1], "y");
        assert_eq!(&text[b.offset..b.offset + 2], "<b");
    }

    #[test]
    fn prefixes_resolve_to_namespaces() {
        let root = parse(
            "<a xmlns:x=\"urn:x\" x:k=\"1\" y:k=\"2\"><b xmlns:x=\"urn:inner\" x:k=\"3\"/><x:c/><y:d/></a>",
        )
        .unwrap();
        assert_eq!(
            root.attribute("x:k").unwrap().namespace.as_deref(),
            Some("urn:x")
        );
        assert_eq!(root.attribute("y:k").unwrap().namespace, None);
        assert_eq!(root.attribute("xmlns:x").unwrap().namespace, None);
        let children: Vec<_> = root.elements().collect();
        assert_eq!(
            children[0].attribute("x:k").unwrap().namespace.as_deref(),
            Some("urn:inner")
        );
        assert_eq!(children[1].name, "{urn:x}c");
        assert_eq!(children[2].name, "y:d");
    }

    #[test]
    fn attribute_values_are_normalised() {
        let root = parse("<a v=\"x\n\ty\"/>").unwrap();
        assert_eq!(root.attribute("v").unwrap().value, "x  y");
    }

    #[test]
    fn malformed_documents_are_refused_with_a_position() {
        for (text, offset) in [
            ("<a><b></a>", 6),
            ("<a>", 3),
            ("", 0),
            ("<a/><b/>", 4),
            ("<a/>x", 4),
            ("x<a/>", 0),
            ("<a>&nbsp;</a>", 3),
            ("<a>&#0;</a>", 3),
            ("<a>\u{1}</a>", 3),
            ("<a x='1' x='2'/>", 0),
            ("<a x='<'/>", 0),
            ("<a>", 3),
            ("</a>", 0),
            ("<a><!-- a -- b --></a>", 10),
            ("<a/>\n<?xml version=\"1.0\"?>", 5),
            (&"<a>".repeat(MAX_DEPTH + 1), 3 * MAX_DEPTH),
        ] {
            match parse(text) {
                Ok(root) => panic!("{text:?} accepted as {root:?}"),
                Err(error) => {
                    assert_eq!(error.offset, offset, "{text:?}: {error:?}");
                    assert!(!error.message.is_empty());
                }
            }
        }
    }
}
