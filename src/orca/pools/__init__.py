"""Local engine pools: model catalog, engine supervisors, placement, health."""
