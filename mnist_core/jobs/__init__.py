"""Training as a background job: the in-process job and the registry that allows one per server,
the child process that trains, and fine-tuning on the class's drawings."""
