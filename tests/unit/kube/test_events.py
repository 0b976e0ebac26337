"""A core/v1 Event about one of our objects names it exactly and never exceeds the message limit."""

from __future__ import annotations

from ipam.kube import bodies, events, resources


def test_an_event_names_the_involved_object_and_the_reporter() -> None:
    meta = bodies.meta_of({"metadata": {"name": "c1", "namespace": "ns", "uid": "u1"}})
    involved = events.Involved(resources.IPCLAIM.api_version, resources.IPCLAIM.kind, meta)
    body = events.event_body(
        events.Event(involved, "Warning", "PoolExhausted", "Exhausted IP Pools"), instance="me"
    )
    assert body["metadata"] == {"generateName": "c1.", "namespace": "ns"}
    assert body["involvedObject"] == {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPClaim",
        "name": "c1",
        "namespace": "ns",
        "uid": "u1",
    }
    assert (body["type"], body["reason"], body["message"]) == (
        "Warning",
        "PoolExhausted",
        "Exhausted IP Pools",
    )
    assert body["source"] == {"component": "capi-ipam"}
    assert body["reportingInstance"] == "me"


def test_a_long_message_is_shortened_to_what_the_api_accepts() -> None:
    meta = bodies.meta_of({"metadata": {"name": "c1", "namespace": "ns"}})
    involved = events.Involved("v1", "X", meta)
    body = events.event_body(events.Event(involved, "Normal", "R", "x" * 5000), instance="me")
    assert len(body["message"]) == events.MAX_MESSAGE
