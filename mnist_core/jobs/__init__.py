"""Training as a background job: the job in a thread (thread_job), the registry that allows one
per server, the child process that trains (child_training, child_process, child_preload), and
fine-tuning on the class's drawings (finetune, finetune_data)."""
