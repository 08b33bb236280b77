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
  from ..models.equipment_input import EquipmentInput
  from ..models.image_input import ImageInput
  from ..models.notify import Notify
  from ..models.punch_input import PunchInput
  from ..models.section_input import SectionInput
  from ..models.signoff_input import SignoffInput
  from ..models.text_section_input import TextSectionInput





T = TypeVar("T", bound="ReportRequest")



@_attrs_define
class ReportRequest:
    """ A Site Acceptance Test report to render. `run_at` and `delay_secs` exclude each other.

        Attributes:
            client (str):
            document_number (str):  Example: SAT-2026-0042.
            project (str):
            revision (str):  Example: B.
            site (str):
            system (str): The system under test.
            callback_url (None | str | Unset): Deliver this job's end (`job.succeeded`, `job.dead` or `job.cancelled`) to
                this URL
                too, signed like a webhook with the key's callback secret
                (`GET /v1/webhooks/callback-secret`). Checked like a webhook's URL (422
                `invalid_url`, `forbidden_target`). Example: https://example.com/hooks/quire.
            delay_secs (int | None | Unset): Start no earlier than this many seconds from now (at most a year). Not with
                `run_at`.
            equipment (list[EquipmentInput] | Unset):
            images (list[ImageInput] | Unset): At most `limits.max_report_images` (default 40) images and signatures
                together, at
                most `limits.max_report_image_bytes` decoded (else 422).
            issued_on (datetime.date | None | Unset): `YYYY-MM-DD`; default today (UTC).
            notify (None | Notify | Unset):
            pdf_standard (None | PdfStandard | Unset):
            pdfa (bool | Unset): The same as `"pdf_standard": "a-2b"` (kept for older clients; `pdf_standard` wins).
            priority (None | PriorityChoice | Unset):
            punch_list (list[PunchInput] | Unset):
            run_at (datetime.datetime | None | Unset): Start no earlier than this RFC 3339 instant: the job is `scheduled`
                until then (and
                can be cancelled meanwhile). An instant already past means now; at most a year ahead
                (else 422 `too_far_ahead`). Not with `delay_secs`. Example: 2026-12-24T18:00:00Z.
            scope (str | Unset): Free text: blank lines separate paragraphs, `- ` starts a bullet, `**bold**`,
                `_italic_`. Never interpreted as typst markup. Line breaks and tabs are the only
                control characters allowed.
            sections (list[SectionInput] | Unset): At most `limits.max_report_sections` (default 500), with at most
                `limits.max_report_rows` (default 5000) result rows over all of them (else 422).
            signoffs (list[SignoffInput] | Unset):
            template (None | str | Unset): Report template name or id; default `sat`.
            test_end (datetime.date | None | Unset): Not before `test_start` (else 422).
            test_start (datetime.date | None | Unset):
            text_sections (list[TextSectionInput] | Unset):
            title (None | str | Unset): Default "Site Acceptance Test Report".
     """

    client: str
    document_number: str
    project: str
    revision: str
    site: str
    system: str
    callback_url: None | str | Unset = UNSET
    delay_secs: int | None | Unset = UNSET
    equipment: list[EquipmentInput] | Unset = UNSET
    images: list[ImageInput] | Unset = UNSET
    issued_on: datetime.date | None | Unset = UNSET
    notify: None | Notify | Unset = UNSET
    pdf_standard: None | PdfStandard | Unset = UNSET
    pdfa: bool | Unset = UNSET
    priority: None | PriorityChoice | Unset = UNSET
    punch_list: list[PunchInput] | Unset = UNSET
    run_at: datetime.datetime | None | Unset = UNSET
    scope: str | Unset = UNSET
    sections: list[SectionInput] | Unset = UNSET
    signoffs: list[SignoffInput] | Unset = UNSET
    template: None | str | Unset = UNSET
    test_end: datetime.date | None | Unset = UNSET
    test_start: datetime.date | None | Unset = UNSET
    text_sections: list[TextSectionInput] | Unset = UNSET
    title: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.equipment_input import EquipmentInput # noqa: PLC0415
        from ..models.image_input import ImageInput # noqa: PLC0415
        from ..models.notify import Notify # noqa: PLC0415
        from ..models.punch_input import PunchInput # noqa: PLC0415
        from ..models.section_input import SectionInput # noqa: PLC0415
        from ..models.signoff_input import SignoffInput # noqa: PLC0415
        from ..models.text_section_input import TextSectionInput # noqa: PLC0415
        client = self.client

        document_number = self.document_number

        project = self.project

        revision = self.revision

        site = self.site

        system = self.system

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

        equipment: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.equipment, Unset):
            equipment = []
            for equipment_item_data in self.equipment:
                equipment_item = equipment_item_data.to_dict()
                equipment.append(equipment_item)



        images: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.images, Unset):
            images = []
            for images_item_data in self.images:
                images_item = images_item_data.to_dict()
                images.append(images_item)



        issued_on: None | str | Unset
        if isinstance(self.issued_on, Unset):
            issued_on = UNSET
        elif isinstance(self.issued_on, datetime.date):
            issued_on = self.issued_on.isoformat()
        else:
            issued_on = self.issued_on

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

        pdfa = self.pdfa

        priority: None | str | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        elif isinstance(self.priority, PriorityChoice):
            priority = self.priority.value
        else:
            priority = self.priority

        punch_list: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.punch_list, Unset):
            punch_list = []
            for punch_list_item_data in self.punch_list:
                punch_list_item = punch_list_item_data.to_dict()
                punch_list.append(punch_list_item)



        run_at: None | str | Unset
        if isinstance(self.run_at, Unset):
            run_at = UNSET
        elif isinstance(self.run_at, datetime.datetime):
            run_at = self.run_at.isoformat()
        else:
            run_at = self.run_at

        scope = self.scope

        sections: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.sections, Unset):
            sections = []
            for sections_item_data in self.sections:
                sections_item = sections_item_data.to_dict()
                sections.append(sections_item)



        signoffs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.signoffs, Unset):
            signoffs = []
            for signoffs_item_data in self.signoffs:
                signoffs_item = signoffs_item_data.to_dict()
                signoffs.append(signoffs_item)



        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template

        test_end: None | str | Unset
        if isinstance(self.test_end, Unset):
            test_end = UNSET
        elif isinstance(self.test_end, datetime.date):
            test_end = self.test_end.isoformat()
        else:
            test_end = self.test_end

        test_start: None | str | Unset
        if isinstance(self.test_start, Unset):
            test_start = UNSET
        elif isinstance(self.test_start, datetime.date):
            test_start = self.test_start.isoformat()
        else:
            test_start = self.test_start

        text_sections: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.text_sections, Unset):
            text_sections = []
            for text_sections_item_data in self.text_sections:
                text_sections_item = text_sections_item_data.to_dict()
                text_sections.append(text_sections_item)



        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "client": client,
            "document_number": document_number,
            "project": project,
            "revision": revision,
            "site": site,
            "system": system,
        })
        if callback_url is not UNSET:
            field_dict["callback_url"] = callback_url
        if delay_secs is not UNSET:
            field_dict["delay_secs"] = delay_secs
        if equipment is not UNSET:
            field_dict["equipment"] = equipment
        if images is not UNSET:
            field_dict["images"] = images
        if issued_on is not UNSET:
            field_dict["issued_on"] = issued_on
        if notify is not UNSET:
            field_dict["notify"] = notify
        if pdf_standard is not UNSET:
            field_dict["pdf_standard"] = pdf_standard
        if pdfa is not UNSET:
            field_dict["pdfa"] = pdfa
        if priority is not UNSET:
            field_dict["priority"] = priority
        if punch_list is not UNSET:
            field_dict["punch_list"] = punch_list
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if scope is not UNSET:
            field_dict["scope"] = scope
        if sections is not UNSET:
            field_dict["sections"] = sections
        if signoffs is not UNSET:
            field_dict["signoffs"] = signoffs
        if template is not UNSET:
            field_dict["template"] = template
        if test_end is not UNSET:
            field_dict["test_end"] = test_end
        if test_start is not UNSET:
            field_dict["test_start"] = test_start
        if text_sections is not UNSET:
            field_dict["text_sections"] = text_sections
        if title is not UNSET:
            field_dict["title"] = title

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.equipment_input import EquipmentInput # noqa: PLC0415
        from ..models.image_input import ImageInput # noqa: PLC0415
        from ..models.notify import Notify # noqa: PLC0415
        from ..models.punch_input import PunchInput # noqa: PLC0415
        from ..models.section_input import SectionInput # noqa: PLC0415
        from ..models.signoff_input import SignoffInput # noqa: PLC0415
        from ..models.text_section_input import TextSectionInput # noqa: PLC0415
        d = dict(src_dict)
        client = d.pop("client")

        document_number = d.pop("document_number")

        project = d.pop("project")

        revision = d.pop("revision")

        site = d.pop("site")

        system = d.pop("system")

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


        _equipment = d.pop("equipment", UNSET)
        equipment: list[EquipmentInput] | Unset = UNSET
        if _equipment is not UNSET:
            equipment = []
            for equipment_item_data in _equipment:
                equipment_item = EquipmentInput.from_dict(equipment_item_data)



                equipment.append(equipment_item)


        _images = d.pop("images", UNSET)
        images: list[ImageInput] | Unset = UNSET
        if _images is not UNSET:
            images = []
            for images_item_data in _images:
                images_item = ImageInput.from_dict(images_item_data)



                images.append(images_item)


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


        pdfa = d.pop("pdfa", UNSET)

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


        _punch_list = d.pop("punch_list", UNSET)
        punch_list: list[PunchInput] | Unset = UNSET
        if _punch_list is not UNSET:
            punch_list = []
            for punch_list_item_data in _punch_list:
                punch_list_item = PunchInput.from_dict(punch_list_item_data)



                punch_list.append(punch_list_item)


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


        scope = d.pop("scope", UNSET)

        _sections = d.pop("sections", UNSET)
        sections: list[SectionInput] | Unset = UNSET
        if _sections is not UNSET:
            sections = []
            for sections_item_data in _sections:
                sections_item = SectionInput.from_dict(sections_item_data)



                sections.append(sections_item)


        _signoffs = d.pop("signoffs", UNSET)
        signoffs: list[SignoffInput] | Unset = UNSET
        if _signoffs is not UNSET:
            signoffs = []
            for signoffs_item_data in _signoffs:
                signoffs_item = SignoffInput.from_dict(signoffs_item_data)



                signoffs.append(signoffs_item)


        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))


        def _parse_test_end(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                test_end_type_0 = datetime.date.fromisoformat(data)



                return test_end_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        test_end = _parse_test_end(d.pop("test_end", UNSET))


        def _parse_test_start(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                test_start_type_0 = datetime.date.fromisoformat(data)



                return test_start_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        test_start = _parse_test_start(d.pop("test_start", UNSET))


        _text_sections = d.pop("text_sections", UNSET)
        text_sections: list[TextSectionInput] | Unset = UNSET
        if _text_sections is not UNSET:
            text_sections = []
            for text_sections_item_data in _text_sections:
                text_sections_item = TextSectionInput.from_dict(text_sections_item_data)



                text_sections.append(text_sections_item)


        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))


        report_request = cls(
            client=client,
            document_number=document_number,
            project=project,
            revision=revision,
            site=site,
            system=system,
            callback_url=callback_url,
            delay_secs=delay_secs,
            equipment=equipment,
            images=images,
            issued_on=issued_on,
            notify=notify,
            pdf_standard=pdf_standard,
            pdfa=pdfa,
            priority=priority,
            punch_list=punch_list,
            run_at=run_at,
            scope=scope,
            sections=sections,
            signoffs=signoffs,
            template=template,
            test_end=test_end,
            test_start=test_start,
            text_sections=text_sections,
            title=title,
        )

        return report_request

