"""Where the images come from: the official MNIST files, Kaggle's CSVs, checked and cached. The
lowest layer above the base modules (settings, untrusted, quiet)."""
