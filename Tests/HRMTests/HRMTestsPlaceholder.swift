// Tests for HRM.
