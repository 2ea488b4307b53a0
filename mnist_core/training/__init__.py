"""How a network learns: the typed config and presets, augmentation, callbacks, progress, the fit
loop and time estimates."""
