"""What an operator watches: Prometheus metrics, health probes, the lifecycle log and its JSON form."""
