"""The local system: the devstack's servers, the Drive emulator and the three services.

``fileserver up`` runs them all on loopback on embedded defaults (SQLite for the Downloader,
FerretDB's SQLite backend for the Uploader), ``fileserver down`` stops exactly what was started.
``up --cluster`` adds the Kubernetes control plane and the operator (``kube.py``).
"""
