"""WPS 1.0.0 on the wire: typed requests, the KVP and XML parsers, and the document renderers.

Nothing here knows how a job is executed; the service layer does.
"""
