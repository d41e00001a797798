"""Where jobs run: the local worker pool (embedded default) and the batch scheduler backends."""
