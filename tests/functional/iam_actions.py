"""Which IAM action(s) an AWS API call needs. Most are "<prefix>:<Operation>"; the rest are listed here,
each from the service's "Actions, resources, and condition keys" page in the IAM documentation."""

from __future__ import annotations

from typing import Any

# botocore service name -> IAM service prefix, where they differ
PREFIX = {"s3control": "s3", "bedrock-agent": "bedrock"}

# (service, operation) -> IAM actions, where the action is not named after the operation
SPECIAL: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "GetBucketEncryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "PutBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "DeleteBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "GetPublicAccessBlock"): ("s3:GetBucketPublicAccessBlock",),
    ("s3", "PutPublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "DeletePublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3control", "GetPublicAccessBlock"): ("s3:GetAccountPublicAccessBlock",),
    ("s3control", "PutPublicAccessBlock"): ("s3:PutAccountPublicAccessBlock",),
    ("s3", "ListBuckets"): ("s3:ListAllMyBuckets",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "GetBucketPolicyStatus"): ("s3:GetBucketPolicyStatus",),
    ("s3", "GetBucketOwnershipControls"): ("s3:GetBucketOwnershipControls",),
    ("s3", "DeleteBucketPolicy"): ("s3:DeleteBucketPolicy",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("sts", "GetCallerIdentity"): (),  # needs no permission
}


def iam_actions(service: str, operation: str, params: dict[str, Any]) -> tuple[str, ...]:
    versioned = bool(params.get("VersionId"))
    if service == "s3" and operation in ("GetObjectTagging", "PutObjectTagging") and versioned:
        return (f"s3:{operation.replace('Object', 'ObjectVersion', 1)}",)
    if service == "s3" and operation == "CopyObject" and "versionid" in str(params.get("CopySource", "")).lower():
        return ("s3:GetObjectVersion", "s3:PutObject")  # copying a given version reads that version
    if (service, operation) in SPECIAL:
        return SPECIAL[(service, operation)]
    return (f"{PREFIX.get(service, service)}:{operation}",)
