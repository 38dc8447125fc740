"""The browser smoke test is a script (make test-browser), not a pytest module: its name ends in
`_test.py`, which pytest would otherwise collect during `make unit`."""

collect_ignore = ["run_browser_test.py"]
