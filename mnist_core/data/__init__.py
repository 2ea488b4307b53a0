"""Where the images come from: the official MNIST files (mnist), Kaggle's CSVs (kaggle), checked,
and the in-memory `Dataset` they become (dataset). The lowest layer above the base modules
(settings, untrusted, quiet)."""
