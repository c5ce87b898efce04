"""One module per rule; each defines ``RULE``. The registry discovers them; ``mlwarden_cdk/`` never names one."""
