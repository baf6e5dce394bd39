"""notifier's shipped Jinja2 templates, installed as the package `notifier.templates`.

The folder sits at the top of the repository so that it is easy to find and copy; pyproject.toml
maps it into the package (`package-dir`), and this file makes it a regular package, which both a
wheel and an editable install (`pip install -e .`) can import. See README.md here.
"""
