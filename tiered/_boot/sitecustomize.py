"""Runner start-up hook: python's start-up → tiered enabled, then sys.path, the environment and the user's own sitecustomize as they were.

Only `python -m tiered` puts this directory on PYTHONPATH (with _TIERED_BOOT set); anything else
that imports it finds no _TIERED_BOOT and does nothing but hand over to the real sitecustomize.
"""
import importlib
import marshal
import os
import sys
import warnings


def _restore(boot):
    """Take our entries out of sys.path and PYTHONPATH; the program sees python's own."""
    if boot["pythonpath"] is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = boot["pythonpath"]
    for path in boot["paths"]:
        if path in sys.path:
            sys.path.remove(path)           # the first: PYTHONPATH's, ahead of site's


def _chain():
    """Import the user's own sitecustomize, if there is one, as python would have."""
    ours = sys.modules.pop("sitecustomize", None)
    try:
        importlib.import_module("sitecustomize")
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
    except Exception:                         # noqa: BLE001 - python prints and goes on, so do we
        import traceback
        traceback.print_exc()
    if "sitecustomize" not in sys.modules:    # none of the user's: python's import of this
        sys.modules["sitecustomize"] = ours   # module ends by reading its entry back


def _boot():
    """Enable tiered for the program the runner started."""
    raw = os.environ.pop("_TIERED_BOOT", None)
    if raw is None:
        return
    boot = marshal.loads(bytes.fromhex(raw))     # written by the runner (tiered/__main__.py)
    import tiered                  # only when the runner asked: it is the program's start-up
    _restore(boot)
    _chain()
    with warnings.catch_warnings():           # the runner warned about bad settings already
        warnings.simplefilter("ignore")
        tiered.config.check_all()
    if boot["stats"]["stats"] or boot["stats"]["report"]:
        import atexit
        from tiered import report_html     # start-up time: only when --stats or --report asked
        atexit.register(report_html.at_exit, boot["stats"])
    tiered.enable()


_boot()
