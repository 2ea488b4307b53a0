"""What the lab keeps on disk: runs and class drawings in SQLite (store), devices' identities,
and the catalog of models to choose from."""
