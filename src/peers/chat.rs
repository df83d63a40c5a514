//! Placeholder until the chat peer lands.

use crate::error::{Error, Result};

pub fn cli_serve(_args: &crate::cli::ListenArgs) -> Result<u8> {
    Err(Error::Usage("the chat peer is not built yet".into()))
}

pub fn cli_connect(_args: &crate::cli::ClientArgs) -> Result<u8> {
    Err(Error::Usage("the chat peer is not built yet".into()))
}
