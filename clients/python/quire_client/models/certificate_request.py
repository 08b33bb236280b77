from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.pdf_standard import PdfStandard
from ..models.priority_choice import PriorityChoice
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.certificate_request_fields_type_0 import CertificateRequestFieldsType0
  from ..models.notify import Notify





T = TypeVar("T", bound="CertificateRequest")



@_attrs_define
class CertificateRequest:
    """ A certificate to issue. `run_at` and `delay_secs` exclude each other.

        Attributes:
            course_name (str): At most `limits.max_name_chars` (default 200) characters. Example: Rust for Backend
                Engineers.
            recipient_name (str): At most `limits.max_name_chars` (default 200) characters. Example: Zoë Ångström.
            callback_url (None | str | Unset): Deliver this job's end (`job.succeeded`, `job.dead` or `job.cancelled`) to
                this URL
                too, signed like a webhook with the key's callback secret
                (`GET /v1/webhooks/callback-secret`). Checked like a webhook's URL (422
                `invalid_url`, `forbidden_target`). Example: https://example.com/hooks/quire.
            delay_secs (int | None | Unset): Start no earlier than this many seconds from now (at most a year). Not with
                `run_at`.
            expires_on (datetime.date | None | Unset): `YYYY-MM-DD`, not before `issued_on` (else 422): after this day
                verification answers
                `expired`.
            fields (CertificateRequestFieldsType0 | None | Unset):
            is_public (bool | Unset): List it in the public registry (`GET /v1/certificates/public`).
            issued_on (datetime.date | None | Unset): `YYYY-MM-DD`; default today (UTC). Example: 2026-11-21.
            issuer_name (None | str | Unset): At most `limits.max_name_chars` (default 200) characters.
            notify (None | Notify | Unset):
            pdf_standard (None | PdfStandard | Unset):
            photo (None | str | Unset): Base64 JPEG, PNG or WebP (a `data:` URL prefix is accepted); one that does not
                decode
                within the image limits is a 422.
            priority (None | PriorityChoice | Unset):
            run_at (datetime.datetime | None | Unset): Start no earlier than this RFC 3339 instant: the job is `scheduled`
                until then (and
                can be cancelled meanwhile). An instant already past means now; at most a year ahead
                (else 422 `too_far_ahead`). Not with `delay_secs`. Example: 2026-12-24T18:00:00Z.
            signature (None | str | Unset): Base64 JPEG, PNG or WebP; shown by templates with a signature line.
            template (None | str | Unset): Template name or id; default `classic`. The job pins the template's current
                version.
                One that does not exist or that the key may not use is a 422 `unknown_template`. Example: classic.
     """

    course_name: str
    recipient_name: str
    callback_url: None | str | Unset = UNSET
    delay_secs: int | None | Unset = UNSET
    expires_on: datetime.date | None | Unset = UNSET
    fields: CertificateRequestFieldsType0 | None | Unset = UNSET
    is_public: bool | Unset = UNSET
    issued_on: datetime.date | None | Unset = UNSET
    issuer_name: None | str | Unset = UNSET
    notify: None | Notify | Unset = UNSET
    pdf_standard: None | PdfStandard | Unset = UNSET
    photo: None | str | Unset = UNSET
    priority: None | PriorityChoice | Unset = UNSET
    run_at: datetime.datetime | None | Unset = UNSET
    signature: None | str | Unset = UNSET
    template: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.certificate_request_fields_type_0 import CertificateRequestFieldsType0 # noqa: PLC0415
        from ..models.notify import Notify # noqa: PLC0415
        course_name = self.course_name

        recipient_name = self.recipient_name

        callback_url: None | str | Unset
        if isinstance(self.callback_url, Unset):
            callback_url = UNSET
        else:
            callback_url = self.callback_url

        delay_secs: int | None | Unset
        if isinstance(self.delay_secs, Unset):
            delay_secs = UNSET
        else:
            delay_secs = self.delay_secs

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
        elif isinstance(self.fields, CertificateRequestFieldsType0):
            fields = self.fields.to_dict()
        else:
            fields = self.fields

        is_public = self.is_public

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

        notify: dict[str, Any] | None | Unset
        if isinstance(self.notify, Unset):
            notify = UNSET
        elif isinstance(self.notify, Notify):
            notify = self.notify.to_dict()
        else:
            notify = self.notify

        pdf_standard: None | str | Unset
        if isinstance(self.pdf_standard, Unset):
            pdf_standard = UNSET
        elif isinstance(self.pdf_standard, PdfStandard):
            pdf_standard = self.pdf_standard.value
        else:
            pdf_standard = self.pdf_standard

        photo: None | str | Unset
        if isinstance(self.photo, Unset):
            photo = UNSET
        else:
            photo = self.photo

        priority: None | str | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        elif isinstance(self.priority, PriorityChoice):
            priority = self.priority.value
        else:
            priority = self.priority

        run_at: None | str | Unset
        if isinstance(self.run_at, Unset):
            run_at = UNSET
        elif isinstance(self.run_at, datetime.datetime):
            run_at = self.run_at.isoformat()
        else:
            run_at = self.run_at

        signature: None | str | Unset
        if isinstance(self.signature, Unset):
            signature = UNSET
        else:
            signature = self.signature

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "course_name": course_name,
            "recipient_name": recipient_name,
        })
        if callback_url is not UNSET:
            field_dict["callback_url"] = callback_url
        if delay_secs is not UNSET:
            field_dict["delay_secs"] = delay_secs
        if expires_on is not UNSET:
            field_dict["expires_on"] = expires_on
        if fields is not UNSET:
            field_dict["fields"] = fields
        if is_public is not UNSET:
            field_dict["is_public"] = is_public
        if issued_on is not UNSET:
            field_dict["issued_on"] = issued_on
        if issuer_name is not UNSET:
            field_dict["issuer_name"] = issuer_name
        if notify is not UNSET:
            field_dict["notify"] = notify
        if pdf_standard is not UNSET:
            field_dict["pdf_standard"] = pdf_standard
        if photo is not UNSET:
            field_dict["photo"] = photo
        if priority is not UNSET:
            field_dict["priority"] = priority
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if signature is not UNSET:
            field_dict["signature"] = signature
        if template is not UNSET:
            field_dict["template"] = template

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.certificate_request_fields_type_0 import CertificateRequestFieldsType0 # noqa: PLC0415
        from ..models.notify import Notify # noqa: PLC0415
        d = dict(src_dict)
        course_name = d.pop("course_name")

        recipient_name = d.pop("recipient_name")

        def _parse_callback_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        callback_url = _parse_callback_url(d.pop("callback_url", UNSET))


        def _parse_delay_secs(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        delay_secs = _parse_delay_secs(d.pop("delay_secs", UNSET))


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


        def _parse_fields(data: object) -> CertificateRequestFieldsType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                fields_type_0 = CertificateRequestFieldsType0.from_dict(data)



                return fields_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CertificateRequestFieldsType0 | None | Unset, data)

        fields = _parse_fields(d.pop("fields", UNSET))


        is_public = d.pop("is_public", UNSET)

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


        def _parse_notify(data: object) -> None | Notify | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                notify_type_1 = Notify.from_dict(data)



                return notify_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Notify | Unset, data)

        notify = _parse_notify(d.pop("notify", UNSET))


        def _parse_pdf_standard(data: object) -> None | PdfStandard | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pdf_standard_type_0 = PdfStandard(data)



                return pdf_standard_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PdfStandard | Unset, data)

        pdf_standard = _parse_pdf_standard(d.pop("pdf_standard", UNSET))


        def _parse_photo(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        photo = _parse_photo(d.pop("photo", UNSET))


        def _parse_priority(data: object) -> None | PriorityChoice | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                priority_type_1 = PriorityChoice(data)



                return priority_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PriorityChoice | Unset, data)

        priority = _parse_priority(d.pop("priority", UNSET))


        def _parse_run_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                run_at_type_0 = datetime.datetime.fromisoformat(data)



                return run_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        run_at = _parse_run_at(d.pop("run_at", UNSET))


        def _parse_signature(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        signature = _parse_signature(d.pop("signature", UNSET))


        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))


        certificate_request = cls(
            course_name=course_name,
            recipient_name=recipient_name,
            callback_url=callback_url,
            delay_secs=delay_secs,
            expires_on=expires_on,
            fields=fields,
            is_public=is_public,
            issued_on=issued_on,
            issuer_name=issuer_name,
            notify=notify,
            pdf_standard=pdf_standard,
            photo=photo,
            priority=priority,
            run_at=run_at,
            signature=signature,
            template=template,
        )

        return certificate_request

