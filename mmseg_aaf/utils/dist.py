def setup_cpu_distributed(*a, **k):
    pass
