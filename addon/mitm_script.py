"""Entry point for plain mitmproxy: ``mitmdump -s addon/mitm_script.py`` (or mitmweb / mitmproxy).

Use the mitmdump of formshield's virtual environment (``.venv/bin/mitmdump``) so that the
``addon``, ``detectors`` and ``policies`` packages are importable. Options are set the mitmproxy
way, e.g. ``--set formshield_policy=my-policy.yaml``; see :mod:`addon.proxy`.
"""

from addon.proxy import FormShield

addons = [FormShield()]
