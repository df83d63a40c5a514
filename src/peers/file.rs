//! Placeholder until the file peer lands.

use crate::error::{Error, Result};

pub fn cli_serve(_args: &crate::cli::ServeFileArgs) -> Result<u8> {
    Err(Error::Usage("the file peer is not built yet".into()))
}

pub fn cli_send(_args: &crate::cli::SendFileArgs) -> Result<u8> {
    Err(Error::Usage("the file peer is not built yet".into()))
}
