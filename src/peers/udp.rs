//! Placeholder until the udp peer lands.

use crate::error::{Error, Result};

pub fn cli_serve(_args: &crate::cli::ServeUdpArgs) -> Result<u8> {
    Err(Error::Usage("the udp peer is not built yet".into()))
}

pub fn cli_send(_args: &crate::cli::ClientArgs) -> Result<u8> {
    Err(Error::Usage("the udp peer is not built yet".into()))
}
