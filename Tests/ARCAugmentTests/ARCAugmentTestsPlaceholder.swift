// Tests for ARCAugment.
