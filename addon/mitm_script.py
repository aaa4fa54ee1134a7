"""Entry point for plain mitmproxy: ``mitmdump -s addon/mitm_script.py`` (or mitmweb / mitmproxy).

Use the mitmdump of formshield's virtual environment (``.venv/bin/mitmdump``) so that the
``addon``, ``detectors`` and ``policies`` packages are importable. Options are set the mitmproxy
way, e.g. ``--set formshield_policy=my-policy.yaml``; see :mod:`addon.proxy` and, for the
browser extension's API (``formshield_api_port``, ``formshield_extension_id``),
:mod:`addon.extension_api`.
"""

from addon.extension_api import ExtensionApi
from addon.proxy import FormShield

formshield = FormShield()
# Listed after FormShield: its `configure` runs after FormShield's, so it can layer the user
# policy file over the policy store FormShield has just built.
addons = [formshield, ExtensionApi(formshield)]
