"""Local engine pools: the model catalog, engine supervisors, placement on GPUs, health."""
