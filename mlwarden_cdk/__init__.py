"""mlwarden infrastructure: settings from context, the generic per-rule construct, and the stack.

Nothing here names a particular rule: the stack loops over ``mlwarden.core.registry``.
"""
