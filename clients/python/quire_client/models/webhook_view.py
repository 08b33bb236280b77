from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.webhook_links import WebhookLinks





T = TypeVar("T", bound="WebhookView")



@_attrs_define
class WebhookView:
    """ An endpoint.

        Attributes:
            consecutive_failures (int): Deliveries that died since the last one that succeeded.
            created_at (str):
            enabled (bool): False once disabled, by its owner or after `webhooks.disable_after_failures`
                deliveries in a row died.
            events (list[str]):
            id (str):
            links (WebhookLinks):
            owner_id (str):
            updated_at (str):
            url (str):
            description (None | str | Unset):
            disabled_reason (None | str | Unset):
            previous_secret_until (None | str | Unset): Until when the previous secret still signs too (after a rotation),
                RFC 3339.
            secret (None | str | Unset): The signing secret: only in the answer that created it (create, rotate).
     """

    consecutive_failures: int
    created_at: str
    enabled: bool
    events: list[str]
    id: str
    links: WebhookLinks
    owner_id: str
    updated_at: str
    url: str
    description: None | str | Unset = UNSET
    disabled_reason: None | str | Unset = UNSET
    previous_secret_until: None | str | Unset = UNSET
    secret: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.webhook_links import WebhookLinks # noqa: PLC0415
        consecutive_failures = self.consecutive_failures

        created_at = self.created_at

        enabled = self.enabled

        events = self.events



        id = self.id

        links = self.links.to_dict()

        owner_id = self.owner_id

        updated_at = self.updated_at

        url = self.url

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        disabled_reason: None | str | Unset
        if isinstance(self.disabled_reason, Unset):
            disabled_reason = UNSET
        else:
            disabled_reason = self.disabled_reason

        previous_secret_until: None | str | Unset
        if isinstance(self.previous_secret_until, Unset):
            previous_secret_until = UNSET
        else:
            previous_secret_until = self.previous_secret_until

        secret: None | str | Unset
        if isinstance(self.secret, Unset):
            secret = UNSET
        else:
            secret = self.secret


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "consecutive_failures": consecutive_failures,
            "created_at": created_at,
            "enabled": enabled,
            "events": events,
            "id": id,
            "links": links,
            "owner_id": owner_id,
            "updated_at": updated_at,
            "url": url,
        })
        if description is not UNSET:
            field_dict["description"] = description
        if disabled_reason is not UNSET:
            field_dict["disabled_reason"] = disabled_reason
        if previous_secret_until is not UNSET:
            field_dict["previous_secret_until"] = previous_secret_until
        if secret is not UNSET:
            field_dict["secret"] = secret

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_links import WebhookLinks # noqa: PLC0415
        d = dict(src_dict)
        consecutive_failures = d.pop("consecutive_failures")

        created_at = d.pop("created_at")

        enabled = d.pop("enabled")

        events = cast(list[str], d.pop("events"))


        id = d.pop("id")

        links = WebhookLinks.from_dict(d.pop("links"))




        owner_id = d.pop("owner_id")

        updated_at = d.pop("updated_at")

        url = d.pop("url")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        def _parse_disabled_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        disabled_reason = _parse_disabled_reason(d.pop("disabled_reason", UNSET))


        def _parse_previous_secret_until(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        previous_secret_until = _parse_previous_secret_until(d.pop("previous_secret_until", UNSET))


        def _parse_secret(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        secret = _parse_secret(d.pop("secret", UNSET))


        webhook_view = cls(
            consecutive_failures=consecutive_failures,
            created_at=created_at,
            enabled=enabled,
            events=events,
            id=id,
            links=links,
            owner_id=owner_id,
            updated_at=updated_at,
            url=url,
            description=description,
            disabled_reason=disabled_reason,
            previous_secret_until=previous_secret_until,
            secret=secret,
        )


        webhook_view.additional_properties = d
        return webhook_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
