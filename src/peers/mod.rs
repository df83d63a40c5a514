//! Reference servers and clients, one module per program of the lesson. Each server binds first, so its
//! address (port 0 gives an ephemeral one) is known before any client comes.

pub mod chat;
pub mod echo;
pub mod file;
pub mod udp;
