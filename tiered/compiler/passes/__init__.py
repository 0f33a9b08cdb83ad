"""IR passes, run in the order pipeline.py lists."""
