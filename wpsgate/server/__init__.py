"""The Tornado application: HTTP in, typed requests to the service, documents and files out."""
