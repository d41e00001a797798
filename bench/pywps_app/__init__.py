"""The wpsgate demo processes written for PyWPS 4.8.1, and the WSGI application gunicorn serves.

This package is imported by the PyWPS virtualenv's interpreter (gunicorn), never by
wpsgate's: it depends on pywps only.
"""
