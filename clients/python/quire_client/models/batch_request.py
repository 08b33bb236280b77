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
  from ..models.batch_item import BatchItem





T = TypeVar("T", bound="BatchRequest")



@_attrs_define
class BatchRequest:
    """ A batch as JSON. CSV uploads (`Content-Type: text/csv`) send the rows as CSV with a header
    row of field names (`recipient_name`, `course_name`, `issued_on`, `issuer_name`,
    `expires_on`, and the template's declared fields), and `template` / `is_public` as query
    parameters. `run_at` and `delay_secs` exclude each other.

        Attributes:
            rows (list[BatchItem]): 1 to 10,000 rows.
            callback_url (None | str | Unset): Deliver `batch.completed` to this URL when the batch's last job ends, signed
                like a
                webhook with the key's callback secret (`GET /v1/webhooks/callback-secret`). Checked
                like a webhook's URL (422 `invalid_url`, `forbidden_target`). Example: https://example.com/hooks/quire.
            delay_secs (int | None | Unset): Start no row before this many seconds from now (at most a year). Not with
                `run_at`.
            is_public (bool | Unset): List every certificate of the batch in the public registry.
            pdf_standard (None | PdfStandard | Unset):
            priority (None | PriorityChoice | Unset):
            run_at (datetime.datetime | None | Unset): Start no row before this RFC 3339 instant (they are `scheduled` until
                then; at most a
                year ahead). Not with `delay_secs`. Example: 2026-12-24T18:00:00Z.
            template (None | str | Unset): Template name or id; default `classic`.
     """

    rows: list[BatchItem]
    callback_url: None | str | Unset = UNSET
    delay_secs: int | None | Unset = UNSET
    is_public: bool | Unset = UNSET
    pdf_standard: None | PdfStandard | Unset = UNSET
    priority: None | PriorityChoice | Unset = UNSET
    run_at: datetime.datetime | None | Unset = UNSET
    template: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.batch_item import BatchItem # noqa: PLC0415
        rows = []
        for rows_item_data in self.rows:
            rows_item = rows_item_data.to_dict()
            rows.append(rows_item)



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

        is_public = self.is_public

        pdf_standard: None | str | Unset
        if isinstance(self.pdf_standard, Unset):
            pdf_standard = UNSET
        elif isinstance(self.pdf_standard, PdfStandard):
            pdf_standard = self.pdf_standard.value
        else:
            pdf_standard = self.pdf_standard

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

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "rows": rows,
        })
        if callback_url is not UNSET:
            field_dict["callback_url"] = callback_url
        if delay_secs is not UNSET:
            field_dict["delay_secs"] = delay_secs
        if is_public is not UNSET:
            field_dict["is_public"] = is_public
        if pdf_standard is not UNSET:
            field_dict["pdf_standard"] = pdf_standard
        if priority is not UNSET:
            field_dict["priority"] = priority
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if template is not UNSET:
            field_dict["template"] = template

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_item import BatchItem # noqa: PLC0415
        d = dict(src_dict)
        rows = []
        _rows = d.pop("rows")
        for rows_item_data in (_rows):
            rows_item = BatchItem.from_dict(rows_item_data)



            rows.append(rows_item)


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


        is_public = d.pop("is_public", UNSET)

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


        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))


        batch_request = cls(
            rows=rows,
            callback_url=callback_url,
            delay_secs=delay_secs,
            is_public=is_public,
            pdf_standard=pdf_standard,
            priority=priority,
            run_at=run_at,
            template=template,
        )

        return batch_request

