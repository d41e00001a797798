"""Jobs: converting a request against its process, running it, and the job folder contract."""
