"""The page drivers: what a worker does with its page once Chrome is up."""
