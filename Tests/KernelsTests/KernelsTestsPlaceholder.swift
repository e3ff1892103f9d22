// Tests for Kernels.
