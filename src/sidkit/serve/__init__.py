"""HTTP service over a fitted model folder (FastAPI); a thin shell over sidkit.sid_store."""
