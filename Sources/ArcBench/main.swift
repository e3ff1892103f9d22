// arc-bench: kernel and model benchmark (placeholder until the CPU-model issue lands).
print("arc-bench: not implemented yet")
