"""nbval settings for the notebooks: what `make test` does not compare."""


def pytest_collectstart(collector):
    # A widget's view names a model id that is new on every run; its state cannot match the
    # committed one. The explorer's text line (compared) and PNG (never compared) stand for it.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("application/vnd.jupyter.widget-view+json",)
