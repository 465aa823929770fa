"""The fileserver kopf operator.

Imported as ``fileserver_operator``: a package named ``operator`` can never be imported,
because the standard library's ``operator`` module is loaded when the interpreter starts.
"""
