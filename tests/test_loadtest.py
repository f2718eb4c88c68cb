"""A small `make loadtest` in the suite: concurrent clients, duplicates and hostile files."""

from imgpipe.loadtest import make_uploads, run_load


def test_concurrent_mixed_uploads_all_reach_their_right_final_state(local_stack):
    uploads = make_uploads(24, hostile_every=6, duplicate_every=6)
    report = run_load(local_stack.api, uploads, clients=6, timeout=180)
    assert report["problems"] == {}
    assert report["hostile"] == 4 and report["duplicates"] == 4
    failed = [u for u in uploads if u.record["status"] == "FAILED"]
    assert sorted(u.record["error"]["code"] for u in failed) == sorted(
        u.expected for u in uploads if u.expected != "COMPLETE")
    assert all(len(u.record["renditions"]) == 7 for u in uploads if u.expected == "COMPLETE")


def test_the_check_catches_a_wrong_final_state(local_stack):
    """The load test itself must fail when an upload ends otherwise than expected."""
    (upload,) = make_uploads(1, hostile_every=0, duplicate_every=0)
    upload.expected = "corrupt_image"
    report = run_load(local_stack.api, [upload], clients=1, timeout=60)
    assert list(report["problems"].values()) == [["ended COMPLETE None, expected corrupt_image"]]
