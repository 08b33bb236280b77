from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.preview_request_fields_type_0 import PreviewRequestFieldsType0





T = TypeVar("T", bound="PreviewRequest")



@_attrs_define
class PreviewRequest:
    """ Preview values: like a certificate submission, every member optional (sample values fill
    the rest), and checked by the same rules.

        Attributes:
            course_name (None | str | Unset): At most `limits.max_name_chars` (default 200) characters.
            expires_on (datetime.date | None | Unset): `YYYY-MM-DD`, not before `issued_on` (else 422).
            fields (None | PreviewRequestFieldsType0 | Unset):
            issued_on (datetime.date | None | Unset): `YYYY-MM-DD`.
            issuer_name (None | str | Unset): At most `limits.max_name_chars` (default 200) characters.
            recipient_name (None | str | Unset): At most `limits.max_name_chars` (default 200) characters.
     """

    course_name: None | str | Unset = UNSET
    expires_on: datetime.date | None | Unset = UNSET
    fields: None | PreviewRequestFieldsType0 | Unset = UNSET
    issued_on: datetime.date | None | Unset = UNSET
    issuer_name: None | str | Unset = UNSET
    recipient_name: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.preview_request_fields_type_0 import PreviewRequestFieldsType0 # noqa: PLC0415
        course_name: None | str | Unset
        if isinstance(self.course_name, Unset):
            course_name = UNSET
        else:
            course_name = self.course_name

        expires_on: None | str | Unset
        if isinstance(self.expires_on, Unset):
            expires_on = UNSET
        elif isinstance(self.expires_on, datetime.date):
            expires_on = self.expires_on.isoformat()
        else:
            expires_on = self.expires_on

        fields: dict[str, Any] | None | Unset
        if isinstance(self.fields, Unset):
            fields = UNSET
        elif isinstance(self.fields, PreviewRequestFieldsType0):
            fields = self.fields.to_dict()
        else:
            fields = self.fields

        issued_on: None | str | Unset
        if isinstance(self.issued_on, Unset):
            issued_on = UNSET
        elif isinstance(self.issued_on, datetime.date):
            issued_on = self.issued_on.isoformat()
        else:
            issued_on = self.issued_on

        issuer_name: None | str | Unset
        if isinstance(self.issuer_name, Unset):
            issuer_name = UNSET
        else:
            issuer_name = self.issuer_name

        recipient_name: None | str | Unset
        if isinstance(self.recipient_name, Unset):
            recipient_name = UNSET
        else:
            recipient_name = self.recipient_name


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if course_name is not UNSET:
            field_dict["course_name"] = course_name
        if expires_on is not UNSET:
            field_dict["expires_on"] = expires_on
        if fields is not UNSET:
            field_dict["fields"] = fields
        if issued_on is not UNSET:
            field_dict["issued_on"] = issued_on
        if issuer_name is not UNSET:
            field_dict["issuer_name"] = issuer_name
        if recipient_name is not UNSET:
            field_dict["recipient_name"] = recipient_name

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.preview_request_fields_type_0 import PreviewRequestFieldsType0 # noqa: PLC0415
        d = dict(src_dict)
        def _parse_course_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        course_name = _parse_course_name(d.pop("course_name", UNSET))


        def _parse_expires_on(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_on_type_0 = datetime.date.fromisoformat(data)



                return expires_on_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        expires_on = _parse_expires_on(d.pop("expires_on", UNSET))


        def _parse_fields(data: object) -> None | PreviewRequestFieldsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                fields_type_0 = PreviewRequestFieldsType0.from_dict(data)



                return fields_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PreviewRequestFieldsType0 | Unset, data)

        fields = _parse_fields(d.pop("fields", UNSET))


        def _parse_issued_on(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                issued_on_type_0 = datetime.date.fromisoformat(data)



                return issued_on_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        issued_on = _parse_issued_on(d.pop("issued_on", UNSET))


        def _parse_issuer_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        issuer_name = _parse_issuer_name(d.pop("issuer_name", UNSET))


        def _parse_recipient_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        recipient_name = _parse_recipient_name(d.pop("recipient_name", UNSET))


        preview_request = cls(
            course_name=course_name,
            expires_on=expires_on,
            fields=fields,
            issued_on=issued_on,
            issuer_name=issuer_name,
            recipient_name=recipient_name,
        )

        return preview_request

