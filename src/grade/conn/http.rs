//! HTTP responses on a connection, for the http-server checks: every byte recorded as it arrives.

use super::Conn;
use crate::grade::verdict::Direction;
use crate::peers::http::client::{self, Response, ResponseError};
use crate::wire::Deadline;

impl Conn {
    /// Reads one HTTP response (to a HEAD request when `to_head`), recording every byte that arrives.
    /// The response's bytes are consumed; what follows stays for the next.
    pub fn read_http(
        &mut self,
        deadline: Deadline,
        to_head: bool,
        max_body: usize,
    ) -> Result<Response, ResponseError> {
        let before = self.pending.len();
        let result = client::read_response_at(
            &mut self.stream,
            &mut self.pending,
            deadline,
            to_head,
            max_body,
        );
        if self.pending.len() > before {
            let fresh = self.pending[before..].to_vec();
            self.log
                .record_merged(&self.name, Direction::Received, &fresh);
        }
        if let Err(ResponseError::Closed { .. }) = result {
            self.peer_closed = true;
            self.log.event(&self.name, "peer closed (EOF)");
        }
        let (response, taken) = result?;
        self.pending.drain(..taken);
        Ok(response)
    }

    /// Everything not yet consumed once `wait` has passed, or as soon as anything arrives (stopping at
    /// EOF): for bytes that must not come. A reset is the error it is.
    pub fn read_more_within(&mut self, wait: std::time::Duration) -> std::io::Result<Vec<u8>> {
        if self.pending.is_empty() {
            self.fill(Deadline::after(wait), |b| !b.is_empty())?;
        }
        Ok(std::mem::take(&mut self.pending))
    }

    /// What arrived but was not consumed: after a failed [`Conn::read_http`], the partial response.
    pub fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}
