//! Guest gateway commands: how many a bot may send, so the host never goes
//! over Discord's 120 per connection per 60 s (heartbeats included; going
//! over disconnects the session) and never asks for a whole guild's members
//! more than once per 30 s.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Guest commands per shard per window: half of Discord's 120, so the host's
/// heartbeats, identifies and resumes always have room.
pub const GUEST_COMMANDS: usize = 60;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Discord allows one all-members request per guild per 30 s.
pub const ALL_MEMBERS_EVERY: Duration = Duration::from_secs(30);

/// The commands one shard sent in the last window.
#[derive(Debug, Default)]
pub struct CommandBudget {
    sent: VecDeque<Instant>,
}

impl CommandBudget {
    /// `Err(wait)` if the shard's guest share is spent.
    pub fn check(&mut self, now: Instant) -> Result<(), Duration> {
        while self
            .sent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= GUEST_COMMANDS {
            let oldest = self.sent[0];
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    pub fn spend(&mut self, now: Instant) {
        self.sent.push_back(now);
    }
}

/// When each guild's members were last all requested.
#[derive(Debug, Default)]
pub struct AllMembers {
    last: HashMap<u64, Instant>,
}

impl AllMembers {
    pub fn check(&mut self, guild_id: u64, now: Instant) -> Result<(), Duration> {
        self.last
            .retain(|_, at| now.duration_since(*at) < ALL_MEMBERS_EVERY);
        match self.last.get(&guild_id) {
            Some(at) => Err(ALL_MEMBERS_EVERY.saturating_sub(now.duration_since(*at))),
            None => Ok(()),
        }
    }

    pub fn spend(&mut self, guild_id: u64, now: Instant) {
        self.last.insert(guild_id, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shards_guest_share_is_sixty_a_minute() {
        let start = Instant::now();
        let mut budget = CommandBudget::default();
        for i in 0..GUEST_COMMANDS {
            budget
                .check(start + Duration::from_millis(i as u64))
                .unwrap();
            budget.spend(start + Duration::from_millis(i as u64));
        }
        let wait = budget.check(start + Duration::from_secs(1)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(59));
        assert!(budget.check(start + WINDOW).is_ok());
    }

    #[test]
    fn all_members_once_per_guild_per_thirty_seconds() {
        let start = Instant::now();
        let mut all = AllMembers::default();
        all.check(1, start).unwrap();
        all.spend(1, start);
        assert!(all.check(1, start + Duration::from_secs(10)).is_err());
        assert!(all.check(2, start + Duration::from_secs(10)).is_ok());
        assert!(all.check(1, start + ALL_MEMBERS_EVERY).is_ok());
    }
}
