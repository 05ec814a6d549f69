"""One config file per exercise; `get_config('quick')` gives a small smoke-test run."""
