from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.event_type import EventType
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="UpdateWebhook")



@_attrs_define
class UpdateWebhook:
    """ A change to an endpoint; absent fields stay as they are.

        Attributes:
            description (None | str | Unset): `null` removes it.
            enabled (bool | None | Unset): `true` re-enables a disabled endpoint (its failure count starts again at 0);
                `false`
                disables it.
            events (list[EventType] | None | Unset):
            overlap_secs (int | None | Unset): How long the old secret keeps signing, 0 to 604800 seconds (default 86400).
            rotate_secret (bool | Unset): A new signing secret, shown once in the answer. Until `overlap_secs` have passed,
                deliveries carry two signatures, by the new secret and the old one.
            url (None | str | Unset):
     """

    description: None | str | Unset = UNSET
    enabled: bool | None | Unset = UNSET
    events: list[EventType] | None | Unset = UNSET
    overlap_secs: int | None | Unset = UNSET
    rotate_secret: bool | Unset = UNSET
    url: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        enabled: bool | None | Unset
        if isinstance(self.enabled, Unset):
            enabled = UNSET
        else:
            enabled = self.enabled

        events: list[str] | None | Unset
        if isinstance(self.events, Unset):
            events = UNSET
        elif isinstance(self.events, list):
            events = []
            for events_type_0_item_data in self.events:
                events_type_0_item = events_type_0_item_data.value
                events.append(events_type_0_item)


        else:
            events = self.events

        overlap_secs: int | None | Unset
        if isinstance(self.overlap_secs, Unset):
            overlap_secs = UNSET
        else:
            overlap_secs = self.overlap_secs

        rotate_secret = self.rotate_secret

        url: None | str | Unset
        if isinstance(self.url, Unset):
            url = UNSET
        else:
            url = self.url


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if description is not UNSET:
            field_dict["description"] = description
        if enabled is not UNSET:
            field_dict["enabled"] = enabled
        if events is not UNSET:
            field_dict["events"] = events
        if overlap_secs is not UNSET:
            field_dict["overlap_secs"] = overlap_secs
        if rotate_secret is not UNSET:
            field_dict["rotate_secret"] = rotate_secret
        if url is not UNSET:
            field_dict["url"] = url

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        def _parse_enabled(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        enabled = _parse_enabled(d.pop("enabled", UNSET))


        def _parse_events(data: object) -> list[EventType] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                events_type_0 = []
                _events_type_0 = data
                for events_type_0_item_data in (_events_type_0):
                    events_type_0_item = EventType(events_type_0_item_data)



                    events_type_0.append(events_type_0_item)

                return events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[EventType] | None | Unset, data)

        events = _parse_events(d.pop("events", UNSET))


        def _parse_overlap_secs(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        overlap_secs = _parse_overlap_secs(d.pop("overlap_secs", UNSET))


        rotate_secret = d.pop("rotate_secret", UNSET)

        def _parse_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        url = _parse_url(d.pop("url", UNSET))


        update_webhook = cls(
            description=description,
            enabled=enabled,
            events=events,
            overlap_secs=overlap_secs,
            rotate_secret=rotate_secret,
            url=url,
        )

        return update_webhook

