"""Writers of the ``tiny`` profile: small synthetic datasets in the real on-disk formats."""
