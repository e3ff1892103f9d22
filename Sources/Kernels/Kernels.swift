// Kernels module: placeholder until its issue lands (see README Architecture).
