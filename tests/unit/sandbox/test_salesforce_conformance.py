"""The Salesforce emulator's declared answer shapes, as the conformance check reads them."""

from __future__ import annotations

from sandbox.salesforce.conformance import error_problems, query_shape, save_results_shape


def test_a_query_answer_not_done_must_say_where_the_next_page_is() -> None:
    record = {"attributes": {"type": "Lead"}, "Id": "00Q5g00000AbCdEEAV"}
    assert query_shape({"totalSize": 3, "done": True, "records": [record]}) == []
    assert query_shape({"totalSize": 3, "done": False, "records": [record]}) == [
        "a query not done gives nextRecordsUrl"
    ]
    assert query_shape({"totalSize": "3", "done": True, "records": [{"Id": "x"}]}) == [
        "totalSize (integer) and done (boolean) are required",
        "records is a list of records with attributes.type",
    ]


def test_save_results_and_errors_keep_salesforces_shapes() -> None:
    fine = [{"id": "00Q5g00000AbCdEEAV", "success": True, "errors": []}]
    assert save_results_shape(fine) == []
    assert save_results_shape([{"success": False, "errors": [{"errorCode": "X"}]}]) != []
    assert error_problems([{"message": "expired", "errorCode": "INVALID_SESSION_ID"}]) == []
    assert error_problems([{"message": "bad", "errorCode": "MALFORMED_QUERY"}]) == [
        "refused as malformed: MALFORMED_QUERY: bad"
    ]
    assert error_problems({"error": "nope"}) == ["answer shape: an error is [{message, errorCode}]"]
