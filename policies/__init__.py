"""What to do about personal data: policy files (YAML) and their evaluation.

The file format is documented in docs/policy-format.md. Typical use by the proxy::

    store = PolicyStore([BUNDLED_DEFAULT, user_file], optional=[user_file])  # PolicyError if bad
    decision = store.policy.decide(site, host, finding.entity_type, finding.score,
                                   method=method, path=path, third_party=third_party)
    verdict = combine_decisions([...])          # one per finding of the request
    store.reload_if_changed()                   # from a timer: keeps the last good policy

This package imports neither mitmproxy nor the detectors.
"""

from .engine import Policy
from .entities import KNOWN_ENTITIES
from .loader import BUNDLED_DEFAULT, EXAMPLES_DIR, load_file, policy_stack, validate_file
from .model import (
    Action,
    Combine,
    Decision,
    FailureMode,
    Mode,
    PolicyError,
    RuleRef,
    combine_decisions,
)
from .store import PolicyStore, ReloadResult, ReloadStatus

__all__ = [
    "BUNDLED_DEFAULT",
    "EXAMPLES_DIR",
    "KNOWN_ENTITIES",
    "Action",
    "Combine",
    "Decision",
    "FailureMode",
    "Mode",
    "Policy",
    "PolicyError",
    "PolicyStore",
    "ReloadResult",
    "ReloadStatus",
    "RuleRef",
    "combine_decisions",
    "load_file",
    "policy_stack",
    "validate_file",
]
