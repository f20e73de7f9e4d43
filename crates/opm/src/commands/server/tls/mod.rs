//! `opm server tls init`: HTTPS for a site without its own PKI.

pub mod init;
