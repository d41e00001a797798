"""Who is calling: identity (none, a trusted front end's header, bearer tokens), job ownership and the audit log.

``caller`` holds the identity of one request, ``networks`` which peers are trusted proxies,
``tokens`` the hashed bearer tokens and their table, ``identity`` how a request's headers become a
``Caller``, ``owners`` who owns which job (and who may see it), ``audit`` the audit log lines.
"""
