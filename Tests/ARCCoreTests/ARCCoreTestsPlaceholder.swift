// Tests for ARCCore.
