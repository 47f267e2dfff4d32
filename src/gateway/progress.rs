//! A shard's delivery watermark: the highest sequence below which every
//! event was handed to the bot (or dropped by policy). It is what a restart
//! resumes from, so an event still queued or running when the node dies is
//! delivered again rather than lost (at least once).

use std::collections::BTreeSet;

/// The session a shard resumes, as twilight reports it after READY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub resume_url: String,
}

#[derive(Debug, Default)]
pub struct Progress {
    pub session: Option<Session>,
    /// Bumped with every new session: events of an older session finishing
    /// late must not move this one's watermark.
    pub epoch: u64,
    /// Highest sequence received in this session.
    last: u64,
    /// Received, queued and not yet finished.
    pending: BTreeSet<u64>,
    /// Changed since the last save.
    pub dirty: bool,
}

impl Progress {
    /// Starts from a saved session: everything up to `seq` was handled.
    pub fn resumed(session: Session, seq: u64) -> Progress {
        Progress {
            session: Some(session),
            epoch: 0,
            last: seq,
            pending: BTreeSet::new(),
            dirty: false,
        }
    }

    /// A new session began (READY) at `seq`.
    pub fn begin(&mut self, session: Session, seq: u64) {
        self.session = Some(session);
        self.epoch += 1;
        self.last = seq;
        self.pending.clear();
        self.dirty = true;
    }

    /// The session is gone (invalidated): nothing to resume.
    pub fn end(&mut self) {
        if self.session.take().is_some() {
            self.epoch += 1;
            self.pending.clear();
            self.dirty = true;
        }
    }

    /// An event arrived; `queued` when it now waits for the bot.
    pub fn received(&mut self, seq: u64, queued: bool) {
        self.last = self.last.max(seq);
        if queued {
            self.pending.insert(seq);
        }
        self.dirty = true;
    }

    /// The bot finished (or the host dropped) the event `seq` of `epoch`.
    pub fn finished(&mut self, epoch: u64, seq: u64) {
        if epoch == self.epoch && self.pending.remove(&seq) {
            self.dirty = true;
        }
    }

    pub fn watermark(&self) -> u64 {
        match self.pending.first() {
            Some(first) => first.saturating_sub(1).min(self.last),
            None => self.last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id: "s".into(),
            resume_url: "wss://r".into(),
        }
    }

    #[test]
    fn the_watermark_stops_below_the_oldest_unfinished_event() {
        let mut progress = Progress::default();
        progress.begin(session(), 1);
        let epoch = progress.epoch;
        for seq in 2..=5 {
            progress.received(seq, true);
        }
        assert_eq!(progress.watermark(), 1);
        progress.finished(epoch, 3);
        progress.finished(epoch, 2);
        assert_eq!(progress.watermark(), 3);
        progress.received(6, false);
        progress.finished(epoch, 4);
        progress.finished(epoch, 5);
        assert_eq!(progress.watermark(), 6);
        // A new session: the old one's stragglers do not count.
        progress.received(7, true);
        progress.begin(session(), 1);
        progress.finished(epoch, 7);
        assert_eq!(progress.watermark(), 1);
        progress.end();
        assert!(progress.session.is_none());
    }
}
