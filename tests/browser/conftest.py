"""The browser tests are scripts (make test-browser, make test-site), not pytest modules: their
names end in `_test.py`, which pytest would otherwise collect during `make unit`."""

collect_ignore = ["run_browser_test.py", "run_site_test.py"]
