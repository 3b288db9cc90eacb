"""The commands of ``skgmm``, one module each; every one has ``run(args) -> int`` (the exit status)."""
