"""DI-engine compatible module paths for buffers (configs name them in ``import_names``)."""
