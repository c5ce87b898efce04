"""A failed call becomes one short reason: a server error's HTML page never lands in a table, a reason or an
alert."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from mlwarden.core.errors import MAX_ERROR_TEXT, describe_error

PAGE = "<!DOCTYPE html><html><head><title>503</title></head><body><h1>Service Unavailable</h1></body></html>"


def client_error(code: str, message: str, status: int, operation: str = "ListNotebookInstances") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [("503", PAGE), ("", ""), ("Unknown", "Unknown"), ("503", "Service Unavailable")],
    ids=["html-body", "empty-body", "unparsed-body", "status-text"],
)
def test_a_server_error_page_never_lands_in_a_reason(monkeypatch, code, message):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert (
        describe_error(client_error(code, message, 503)) == "ListNotebookInstances: HTTP 503 from http://127.0.0.1:4566"
    )


def test_an_aws_error_answer_is_kept_as_aws_said_it():
    error = client_error("AccessDenied", "User is not authorized to perform s3:ListAllMyBuckets", 403, "ListBuckets")
    assert describe_error(error) == "ListBuckets: AccessDenied: User is not authorized to perform s3:ListAllMyBuckets"
    assert describe_error(client_error("ThrottlingException", "Rate exceeded", 500)) == (
        "ListNotebookInstances: ThrottlingException: Rate exceeded"
    )


def test_a_parser_error_quoting_an_html_page_does_not_quote_it():
    error = ResponseParserError(f"Unable to parse response (syntax error), invalid XML received:\nb'{PAGE}'")
    text = describe_error(error)
    assert "<" not in text
    assert text.endswith("(an HTML page, not an AWS answer)")


def test_a_long_error_message_is_cut_not_pasted_whole():
    text = describe_error(client_error("ValidationException", "x" * 5000, 400))
    assert len(text) == MAX_ERROR_TEXT and text.endswith("…")
