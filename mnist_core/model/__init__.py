"""A network as data (spec), built into Keras (build), saved and loaded with its card (files),
scored (evaluation). Knows nothing of training or storage."""
