//! Placeholder until the syslog exporter lands: every destination of this
//! protocol is refused at start.

use super::{Destination, DestinationError, Exporter};

pub(crate) fn exporter(dest: &Destination) -> Result<Box<dyn Exporter>, DestinationError> {
    Err(DestinationError {
        url: dest.url().to_owned(),
        reason: "not built yet".into(),
    })
}
