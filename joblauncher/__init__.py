"""The joblauncher: runs one wpsgate job on a compute node, from its folder on the shared spool.

It needs the job folder and the signing key, nothing else of the gateway: no
configuration file, no database, no network.
"""
