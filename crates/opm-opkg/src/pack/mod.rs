//! Native package writers (.deb, .rpm). Filled by the native-packages issue.
