"""What the lab keeps on disk: runs and class drawings in SQLite (db, runs, drawings; one
`store.RunStore` for all), devices' identities, and the catalog of models to choose from."""
