from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.event_type import EventType
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="CreateWebhook")



@_attrs_define
class CreateWebhook:
    """ A new endpoint.

        Attributes:
            events (list[EventType]): Event types: `job.succeeded`, `job.failed` (an attempt failed; it will be retried),
                `job.dead`, `job.cancelled`, `batch.completed`, `certificate.revoked`, or `*` for all. Example:
                ['job.succeeded', 'job.dead'].
            url (str): Where deliveries go: `https://` (or `http://` when `webhooks.allow_http` is set); it
                must resolve to public addresses only (unless `webhooks.allow_networks` allows more). Example:
                https://example.com/hooks/quire.
            description (None | str | Unset):
            owner_id (None | str | Unset): Admins only: the key whose events it receives (default: the caller's).
     """

    events: list[EventType]
    url: str
    description: None | str | Unset = UNSET
    owner_id: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        events = []
        for events_item_data in self.events:
            events_item = events_item_data.value
            events.append(events_item)



        url = self.url

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        owner_id: None | str | Unset
        if isinstance(self.owner_id, Unset):
            owner_id = UNSET
        else:
            owner_id = self.owner_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "events": events,
            "url": url,
        })
        if description is not UNSET:
            field_dict["description"] = description
        if owner_id is not UNSET:
            field_dict["owner_id"] = owner_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        events = []
        _events = d.pop("events")
        for events_item_data in (_events):
            events_item = EventType(events_item_data)



            events.append(events_item)


        url = d.pop("url")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        def _parse_owner_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner_id = _parse_owner_id(d.pop("owner_id", UNSET))


        create_webhook = cls(
            events=events,
            url=url,
            description=description,
            owner_id=owner_id,
        )

        return create_webhook

