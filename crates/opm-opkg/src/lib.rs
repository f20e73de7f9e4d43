//! OSCAR package sources: reading config.xml and configurator.html, and
//! building the native packages. Filled by the opkg-sources issue.

pub mod pack;
