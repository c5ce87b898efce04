"""mlwarden infrastructure: settings from context, the generic per-rule construct, and the stack.

Nothing here names a particular rule: the stack loops over ``mlwarden.core.registry``.

In a CDK app of your own (``pip install "mlwarden[cdk]"``)::

    from mlwarden_cdk import Guardrails

    class MyStack(Stack):
        def __init__(self, scope, id, **kwargs):
            super().__init__(scope, id, **kwargs)
            Guardrails(self, "Guardrails", rules={"<rule-id>": {"mode": "remediate"}},
                       notification_emails=["secops@example.com"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlwarden_cdk.stack import Guardrails, MlwardenStack

__all__ = ["Guardrails", "MlwardenStack"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `import mlwarden_cdk.<module>` need not load the whole stack, and without the cdk
    # extra the error says what to install.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from mlwarden_cdk import stack
    except ModuleNotFoundError as exc:
        if exc.name in ("aws_cdk", "constructs"):
            raise ImportError(f"mlwarden_cdk.{name} needs AWS CDK: pip install 'mlwarden[cdk]'") from exc
        raise
    return getattr(stack, name)
