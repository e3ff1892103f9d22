// Tests for Voting.
