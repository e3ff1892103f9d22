// Tests for ARCFetch.
