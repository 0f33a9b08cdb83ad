"""Runner start-up hook: the directory `python -m tiered` puts first on PYTHONPATH (its sitecustomize.py enables tiered)."""
